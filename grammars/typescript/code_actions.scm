; inherits: ecma
; TypeScript classes, abstract classes and interfaces are named by a type identifier.
[(class_declaration name: (type_identifier) @class.name)
 (abstract_class_declaration name: (type_identifier) @class.name)
 (interface_declaration name: (type_identifier) @class.name)] @class
