; Code actions (codex_ls/actions) shared by JavaScript, TypeScript and TSX; captures as in
; grammars/python/code_actions.scm. Each language adds its class pattern.
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

(comment) @comment

(import_statement) @import
