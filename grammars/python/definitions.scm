; Definitions another open document can offer to the prompt: @name is the defined name,
; @definition the whole node (its signature and docstring are kept, the body elided).
(module (function_definition name: (identifier) @name) @definition)
(module (decorated_definition definition: (function_definition name: (identifier) @name)) @definition)
(module (class_definition name: (identifier) @name) @definition)
(module (decorated_definition definition: (class_definition name: (identifier) @name)) @definition)
(module (expression_statement (assignment left: (identifier) @name)) @definition)
