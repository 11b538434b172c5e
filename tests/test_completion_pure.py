"""Pure pieces of the completion pipeline: the forced indentation and re-indenting a block."""

from codex_ls.completion import _forced_start, _middle_start, _reindent, _shifted, _top_level_window
from codex_ls.stops import analyze_cursor


def test_forced_start_leaves_the_last_space_to_the_model():
    ctx = analyze_cursor("def f(x):\n    for i in x:\n", "        y(i)\n")
    assert _forced_start(ctx, "        ") == "       "  # 7 spaces: the model writes " y" itself
    assert _forced_start(ctx, "\t\t") == "\t\t"
    assert _forced_start(ctx, None) == ""
    typed = analyze_cursor("def f(x):\n    for i in x:\n        ", "\n")
    assert _forced_start(typed, "        ") == ""  # the user already indented


def test_middle_start_is_the_typed_line_and_the_required_indentation():
    ctx = analyze_cursor("def f(x):\n    for i in x:\n", "        y(i)\n")
    assert _middle_start(ctx, "        ") == "       "  # less the last space, as in _forced_start
    partial = analyze_cursor("def f(x):\n    for i in x:\n        pri", "\n")
    assert _middle_start(partial, "        ") == "        pri"
    assert _middle_start(partial, None) == "        pri"
    after_word = analyze_cursor("def f(x):\n    for i in ", "\n")
    assert _middle_start(after_word, None) == "    for i in "  # healed: the model may write " x"


def test_shifted_rule_sees_only_the_text_after_the_cursor():
    seen = []

    def rule(text):
        seen.append(text)
        return text.find("\n") if "\n" in text else None

    # prompt ended with "    pri" (typed) and the model wrote "nt(x)\nmore"
    check = _shifted(rule, "    pri", "    pri")
    assert check("nt(x)\nmore") == len("nt(x)")
    assert seen[-1] == "nt(x)\nmore"
    # the typed text plus forced indentation: the cut is relative to the generated text
    check = _shifted(rule, "    for a in", "    fo")
    assert check(" b:\n") == len(" b:")
    assert seen[-1] == "r a in b:\n"
    # a one-space indentation typed, left to the model to write again: the rule still sees only
    # what follows the cursor
    check = _shifted(rule, "", " ")
    assert check(" x = 1\nmore") == len(" x = 1")
    assert seen[-1] == "x = 1\nmore"


def test_reindent_shifts_the_whole_block_to_the_required_indentation():
    ctx = analyze_cursor("def f(x):\n    for i in x:\n", "        y(i)\n")
    assert _reindent("    if i:\n        z(i)\n", ctx, "        ") == "        if i:\n            z(i)\n"
    assert _reindent("        ok(i)\n", ctx, "        ") == "        ok(i)\n"  # already right
    # a shift that would take more whitespace than a line has is not made
    assert _reindent("            a\n  b\n", ctx, "        ") == "            a\n  b\n"


def test_top_level_window_is_the_statement_around_the_cursor():
    text = "import os\n\ndef f():\n    x = 1\n    return x\n\ndef g():\n    pass\n"
    start, end = _top_level_window(text, text.index("return"))
    assert text[start:end] == "def f():\n    x = 1\n    return x\n\n"


def test_stop_floor_is_the_methods_body_inside_a_class():
    from codex_ls.completion import stop_floor
    from codex_ls.documents import Document

    text = "class Wrapper:\n    def __init__(self, width):\n        self.width = width\n        \n        self.tabs = 8\n\n    def wrap(self):\n        pass\n"
    offset = text.index("        \n") + 8
    doc = Document("file:///w/a.py", text, 0, "python")
    ctx = analyze_cursor(text[:offset], text[offset:])
    assert stop_floor(doc, offset, ctx) == 8  # the method's body; the class body would be 4
    go = "package m\n\nfunc f() int {\n\tx := 1\n\t\n\treturn x\n}\n"
    offset = go.index("\t\n") + 1
    assert stop_floor(Document("file:///w/a.go", go, 0, "go"), offset, analyze_cursor(go[:offset], go[offset:], line_comment="//")) == 4
