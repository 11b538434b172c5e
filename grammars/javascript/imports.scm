; Top-level imports, kept in every prompt (also inside a top-level ERROR node: a line being typed
; must not change the prompt's head).
(program (import_statement) @import)
(program (ERROR (import_statement) @import))
