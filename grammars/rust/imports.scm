; Top-level use declarations, kept in every prompt (also inside a top-level ERROR node: a line
; being typed must not change the prompt's head).
(source_file (use_declaration) @import)
(source_file (ERROR (use_declaration) @import))
