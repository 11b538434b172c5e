; Top-level imports: kept in every prompt (the model needs to know what names exist).
; A line being typed can turn the whole module into one ERROR node: its imports still count,
; so that the prompt (and the KV cache) stays the same while the user types.
(module (import_statement) @import)
(module (import_from_statement) @import)
(module (future_import_statement) @import)
(module (ERROR (import_statement) @import))
(module (ERROR (import_from_statement) @import))
(module (ERROR (future_import_statement) @import))
