; The package clause and imports, kept in every prompt (also inside a top-level ERROR node: a
; line being typed must not change the prompt's head).
(source_file (package_clause) @import)
(source_file (import_declaration) @import)
(source_file (ERROR (package_clause) @import))
(source_file (ERROR (import_declaration) @import))
