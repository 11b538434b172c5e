; Top-level definitions another open document can offer to the prompt (@name, @definition).
(source_file (function_item name: (identifier) @name) @definition)
(source_file (struct_item name: (type_identifier) @name) @definition)
(source_file (enum_item name: (type_identifier) @name) @definition)
(source_file (trait_item name: (type_identifier) @name) @definition)
(source_file (const_item name: (identifier) @name) @definition)
