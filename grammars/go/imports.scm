; The package clause and imports, kept in every prompt.
(source_file (package_clause) @import)
(source_file (import_declaration) @import)
