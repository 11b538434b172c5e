; Top-level use declarations, kept in every prompt.
(source_file (use_declaration) @import)
