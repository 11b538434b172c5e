; inherits: ecma
; JavaScript classes are named by an identifier.
(class_declaration name: (identifier) @class.name) @class
