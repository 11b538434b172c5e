; Top-level imports: kept in every prompt (the model needs to know what names exist).
(module (import_statement) @import)
(module (import_from_statement) @import)
(module (future_import_statement) @import)
