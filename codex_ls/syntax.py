"""Syntax questions about the cursor, answered with the document's tree-sitter tree.

Pure functions of a tree and a byte offset: no server, no model.
"""

from __future__ import annotations

import tree_sitter

STRING_TYPES = frozenset(
    {
        "string", "string_content", "string_fragment", "string_literal", "raw_string_literal",
        "interpreted_string_literal", "template_string", "char_literal", "character_literal",
        "concatenated_string", "text_block",
    }
)
"""Node types of string literals across the supported grammars."""

CODE_IN_STRING_TYPES = frozenset({"interpolation", "template_substitution", "format_expression"})
"""Nodes inside a string that hold code (f-string ``{...}``, JS ``${...}``)."""

COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "doc_comment"})

BLOCK_ENDING_TYPES = frozenset(
    {"return_statement", "raise_statement", "break_statement", "continue_statement", "throw_statement", "pass_statement"}
)
"""Statements after which nothing more can run in their block."""

VALUE_STATEMENT_TYPES = frozenset({"return_statement", "raise_statement", "throw_statement"})
"""Block-ending statements that usually take a value: typed bare, they are not finished yet."""


def _ancestors(node: tree_sitter.Node | None):
    while node is not None:
        yield node
        node = node.parent


def cursor_in_literal(tree: tree_sitter.Tree, byte: int) -> str | None:
    """``"string"`` or ``"comment"`` if the cursor at UTF-8 offset ``byte`` is strictly inside one, else ``None``.

    Inside an interpolation (``f"{x}"``, `` `${x}` ``) is code, not string.
    A cursor at the end of a line comment is not "inside" it.
    """
    node = tree.root_node.descendant_for_byte_range(byte, byte)
    for anc in _ancestors(node):
        if anc.type in CODE_IN_STRING_TYPES:
            return None
        if anc.type in STRING_TYPES and anc.start_byte < byte < anc.end_byte:
            return "string"
        if anc.type in COMMENT_TYPES and anc.start_byte < byte < anc.end_byte:
            return "comment"
    return None


def after_block_ending_statement(tree: tree_sitter.Tree, byte: int, source: bytes) -> bool:
    """True when the code before the cursor ends with a complete ``return``/``raise``/``break``/... statement
    and nothing follows the cursor on its line: the block is over, there is nothing to complete."""
    line_end = source.find(b"\n", byte)
    rest = source[byte : len(source) if line_end == -1 else line_end]
    if rest.strip():
        return False
    end = byte  # a space after `return ` means the user goes on typing: not the end
    if end == 0:
        return False
    node = tree.root_node.descendant_for_byte_range(end - 1, end - 1)
    for anc in _ancestors(node):
        if anc.end_byte != end:
            if anc.end_byte > end:
                break
            continue
        if anc.type in BLOCK_ENDING_TYPES:
            if anc.type in VALUE_STATEMENT_TYPES and (anc.named_child_count == 0 or _ends_in_identifier(tree, end)):
                return False  # a bare `return`, or `raise V|` with a word being typed: the value goes on
            return not anc.has_error
        if anc.type == "expression_statement":  # Go/Rust/JS statements are wrapped differently
            continue
    return False


def _ends_in_identifier(tree: tree_sitter.Tree, end: int) -> bool:
    """Whether the code before UTF-8 offset ``end`` ends with a name (which the user may still be typing)."""
    node = tree.root_node.descendant_for_byte_range(end - 1, end - 1)
    return node is not None and node.end_byte == end and node.type.endswith("identifier")


def should_complete(tree: tree_sitter.Tree | None, byte: int, source: bytes) -> bool:
    """Whether an inline completion makes sense at UTF-8 offset ``byte``.

    No inside string literals or comments, and not after a statement that
    ends its block (``return x`` at the end of its line). Without a tree
    (unknown language) always yes.
    """
    if tree is None:
        return True
    if cursor_in_literal(tree, byte) is not None:
        return False
    return not after_block_ending_statement(tree, byte, source)


def python_syntax_error_line(source: str) -> int | None:
    """The line (1-based) of the first syntax error CPython's compiler reports in ``source``
    (this interpreter's grammar, including what only the compiler checks: ``break`` outside a
    loop, an ``else`` with no ``if``), or ``None`` when it compiles. Nothing is run; warnings
    (invalid escape sequences) are not shown. About a millisecond for a 100-line function.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<completion>", "exec", dont_inherit=True)
        except SyntaxError as exc:  # IndentationError and TabError too
            return exc.lineno or 1
        except (ValueError, RecursionError, MemoryError):  # a null byte; nesting too deep for the compiler
            return None
    return None


def python_indentation_errors(source: str) -> int:
    """How many indentation errors CPython would report in ``source`` (see :func:`python_indentation_error_lines`)."""
    return len(python_indentation_error_lines(source))


def python_indentation_error_lines(source: str) -> list[int]:
    """Lines (1-based) of the indentation errors CPython would report in ``source``; tree-sitter's grammar accepts them all.

    From the token stream of :mod:`tokenize` (strings, brackets and
    continuation lines handled as CPython does): a block opener (a logical line
    ending in ``:``) not followed by a deeper line ("expected an indented
    block", reported at the opener's line), a deeper line that follows no
    opener ("unexpected indent", at that line), and a dedent to no enclosing
    level ("unindent does not match", at that line; tokenizing stops there).
    Other syntax errors are not reported; an unterminated string or bracket
    stops the scan where it starts.
    """
    import io
    import tokenize

    errors: list[int] = []
    last_significant = None  # the last token before the current NEWLINE
    opener_line = 0
    expect_indent = False
    after_newline = True
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NEWLINE:
                expect_indent = last_significant == ":"
                opener_line = tok.start[0]
                after_newline = True
                continue
            if tok.type == tokenize.INDENT:
                if not expect_indent:
                    errors.append(tok.start[0])
                expect_indent = False
                continue
            if tok.type in skip:
                continue
            if tok.type == tokenize.ENDMARKER:
                break
            if after_newline and expect_indent:
                errors.append(opener_line)  # a statement where the opener's body should be
            expect_indent = False
            after_newline = False
            last_significant = tok.string if tok.type == tokenize.OP else tok.type
    except IndentationError as exc:
        errors.append(exc.lineno or 0)
    except (tokenize.TokenError, SyntaxError):
        pass
    if expect_indent:
        errors.append(opener_line)  # the text ends right after an opener
    return errors
