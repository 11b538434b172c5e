; inherits: javascript
; TypeScript-only declarations.
(program (interface_declaration name: (type_identifier) @name) @definition)
(program (type_alias_declaration name: (type_identifier) @name) @definition)
(program (export_statement declaration: (interface_declaration name: (type_identifier) @name)) @definition)
(program (export_statement declaration: (type_alias_declaration name: (type_identifier) @name)) @definition)
