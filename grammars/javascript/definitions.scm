; Top-level definitions another open document can offer to the prompt (@name, @definition).
(program (function_declaration name: (identifier) @name) @definition)
(program (class_declaration name: (_) @name) @definition)
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition)
(program (export_statement declaration: (function_declaration name: (identifier) @name)) @definition)
(program (export_statement declaration: (class_declaration name: (_) @name)) @definition)
(program (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name))) @definition)
