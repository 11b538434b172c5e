; Code actions (codex_ls/actions); captures as in grammars/python/code_actions.scm.
(function_item
  name: (identifier) @function.name
  body: (block) @function.body) @function

(impl_item type: (_) @class.name) @class
(trait_item name: (type_identifier) @class.name) @class
(struct_item name: (type_identifier) @class.name) @class
(enum_item name: (type_identifier) @class.name) @class

[(line_comment) (block_comment)] @comment

[(use_declaration) (extern_crate_declaration)] @import
