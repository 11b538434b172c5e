; Code actions (codex_ls/actions); captures as in grammars/python/code_actions.scm.
(function_declaration
  name: (identifier) @function.name
  body: (statement_block) @function.body) @function

(generator_function_declaration
  name: (identifier) @function.name
  body: (statement_block) @function.body) @function

(method_definition
  name: (_) @function.name
  body: (statement_block) @function.body) @function

(variable_declarator
  name: (identifier) @function.name
  value: [(arrow_function body: (statement_block) @function.body)
          (function_expression body: (statement_block) @function.body)]) @function

(class_declaration name: (identifier) @class.name) @class

(comment) @comment

(import_statement) @import
