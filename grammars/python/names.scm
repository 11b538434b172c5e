; The names check (codex_ls/names.py). Every identifier is @id; one that is also @bind is bound
; there, one that is also @skip is neither bound nor read (an attribute or keyword name, a module
; path); identifiers inside an @unchecked node count as bound. `from m import *` (@star) turns
; the check off: any name may be bound.
(identifier) @id
(wildcard_import) @star
(ERROR) @unchecked
(case_pattern) @unchecked
(type_parameter) @unchecked

(function_definition name: (identifier) @bind)
(class_definition name: (identifier) @bind)
(parameters (identifier) @bind)
(lambda_parameters (identifier) @bind)
(default_parameter name: (identifier) @bind)
(typed_default_parameter name: (identifier) @bind)
(typed_parameter . (identifier) @bind)
(list_splat_pattern (identifier) @bind)
(dictionary_splat_pattern (identifier) @bind)
(global_statement (identifier) @bind)
(nonlocal_statement (identifier) @bind)
(named_expression name: (identifier) @bind)
(assignment left: (identifier) @bind)
(for_statement left: (identifier) @bind)
(for_in_clause left: (identifier) @bind)
(pattern_list (identifier) @bind)
(tuple_pattern (identifier) @bind)
(list_pattern (identifier) @bind)
(as_pattern_target (identifier) @bind)
(as_pattern_target (tuple (identifier) @bind))
(as_pattern_target (list (identifier) @bind))
(aliased_import alias: (identifier) @bind)
(import_statement name: (dotted_name . (identifier) @bind))
(import_from_statement name: (dotted_name (identifier) @bind))

(attribute attribute: (identifier) @skip)
(keyword_argument name: (identifier) @skip)
(dotted_name (identifier) @skip)
