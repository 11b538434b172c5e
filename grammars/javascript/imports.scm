; Top-level imports, kept in every prompt.
(program (import_statement) @import)
