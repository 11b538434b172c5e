; Every identifier, for the names check (codex_ls/names.py classifies each as bound or read
; from its parent), and `from m import *` (which turns the check off: any name may be bound).
(identifier) @id
(wildcard_import) @star
