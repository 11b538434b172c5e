; Top-level definitions another open document can offer to the prompt (@name, @definition).
(source_file (function_declaration name: (identifier) @name) @definition)
(source_file (method_declaration name: (field_identifier) @name) @definition)
(source_file (type_declaration (type_spec name: (type_identifier) @name)) @definition)
