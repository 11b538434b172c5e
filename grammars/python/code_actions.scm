; Code actions (codex_ls/actions): what "Implement function", "Generate code from comment" and
; the prompt context are found with.
;   @function        a function or method (the node whose body may be written)
;   @function.name   its name
;   @function.body   its body block
;   @class           a class (context for its methods), @class.name its name
;   @comment         a comment (an instruction when it stands on its own line)
;   @import          an import statement (always in the prompt)
(function_definition
  name: (identifier) @function.name
  body: (block) @function.body) @function

(class_definition name: (identifier) @class.name) @class

(comment) @comment

[(import_statement) (import_from_statement) (future_import_statement)] @import
