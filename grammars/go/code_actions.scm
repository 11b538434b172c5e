; Code actions (codex_ls/actions); captures as in grammars/python/code_actions.scm.
(function_declaration
  name: (identifier) @function.name
  body: (block) @function.body) @function

(method_declaration
  name: (field_identifier) @function.name
  body: (block) @function.body) @function

(func_literal body: (block) @function.body) @function

(type_declaration (type_spec name: (type_identifier) @class.name)) @class

(comment) @comment

(import_declaration) @import
