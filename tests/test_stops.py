"""Completion modes and per-token stop rules (pure)."""

import pytest

from codex_ls.stops import StopRule, analyze_cursor, bracket_scan, indent_width, open_depth


def run_rule(prefix, suffix, generated, comment="#", max_lines=12):
    """Feed the generated text to the rule token by token (here: char by char) like the engine does."""
    rule = StopRule(analyze_cursor(prefix, suffix, line_comment=comment), max_lines=max_lines)
    for i in range(1, len(generated) + 1):
        cut = rule(generated[:i])
        if cut is not None:
            return generated[:i][:cut]
    return generated


def test_modes():
    assert analyze_cursor("x = foo(", ")\n").mode == "line"
    assert analyze_cursor("    x = ", "\n").mode == "statement"
    assert analyze_cursor("def f():\n    ", "\n").mode == "block"


def test_line_mode_stops_at_end_of_line_and_before_the_suffix_bracket():
    assert run_rule("x = foo(", ")\nprint(x)\n", "a, b)\nmore") == "a, b"
    assert run_rule("name = ", " + suffix\n", "prefix\nmore") == "prefix"


def test_statement_mode_one_line_unless_it_opens_a_block():
    assert run_rule("    total = ", "\n    return total\n", "sum(xs)\n    return total\n") == "sum(xs)"
    got = run_rule("def f(x):", "\n\ndef g():\n    pass\n", "\n    y = x + 1\n    return y\n\ndef h():\n")
    assert got.rstrip() == "\n    y = x + 1\n    return y"


def test_block_mode_ends_at_dedent():
    got = run_rule("def f(x):\n    ", "\n\ndef g():\n    pass\n", "y = x + 1\n    return y\n\ndef h():\n    pass\n")
    assert got.rstrip() == "y = x + 1\n    return y"


def test_block_mode_stops_where_model_repeats_the_suffix():
    got = run_rule("def f(x):\n    y = 1\n    ", "\n    return y\n", "y += x\n    return y\n")
    assert got.rstrip() == "y += x"


def test_block_respects_max_lines():
    gen = "".join(f"a{i} = {i}\n    " for i in range(20))
    got = run_rule("def f():\n    ", "\n", gen, max_lines=3)
    assert got.count("\n") == 2


def test_unopened_closing_brace_ends_the_block():
    got = run_rule("function f() {\n  ", "\n}\n", "return 1;\n}\nfunction g() {}", comment="//")
    assert got.rstrip() == "return 1;"


def test_bracket_opened_in_prefix_may_be_closed():
    # the suffix does not close the paren, so the completion may
    assert run_rule("x = foo(", "\nprint(1)\n", "a, b)\nmore") == "a, b)"


def test_brackets_in_strings_and_comments_ignored():
    assert bracket_scan("')' # )\n", 0, "#")[0] is None
    assert bracket_scan("x) ", 0, "#")[0] == 1
    assert open_depth("f(a,\n  [1, 2,", "3])\n") == 0
    assert open_depth("f(a,\n  [1, 2,", "\n") == 2


@pytest.mark.parametrize("line, width", [("    x", 4), ("\tx", 4), ("  \tx", 4), ("x", 0), ("", 0)])
def test_indent_width(line, width):
    assert indent_width(line) == width


# --- the same rules on real snippets in other languages -------------------------------------

from codex_ls.completion import insertion_checker  # noqa: E402
from codex_ls.documents import Document  # noqa: E402
from codex_ls.postprocess import postprocess  # noqa: E402

CURSOR = "‸"


def finish(language: str, source: str, generated: str) -> str:
    """Stop rule, then post-processing with the tree-sitter check, as the server does."""
    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    doc = Document(f"file:///t.{language}", text, 1, language)
    comment = doc.language.comment_prefix
    cut = run_rule(text[:offset], text[offset:], generated, comment=comment)
    ctx = analyze_cursor(text[:offset], text[offset:], line_comment=comment)
    return postprocess(cut, ctx, insertion_checker(doc, offset))


def test_javascript_block_ends_before_the_closing_brace():
    src = "function total(items) {\n  ‸\n}\n\nmodule.exports = { total };\n"
    gen = "let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  return sum;\n}\n\nfunction other() {"
    assert finish("js", src, gen) == "let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  return sum;"


def test_typescript_line_mode_stops_at_the_suffix_paren():
    src = "const names: string[] = users.map(‸);\n"
    assert finish("ts", src, "(u) => u.name);\nconsole.log(names);") == "(u) => u.name"


def test_go_tabs_block_ends_at_dedent():
    src = "package main\n\nfunc sum(xs []int) int {\n\t‸\n}\n"
    gen = "total := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n\nfunc main() {"
    assert finish("go", src, gen) == "total := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total"


def test_rust_statement_opening_a_block_gets_its_body():
    src = "fn main() {\n    let xs = vec![1, 2, 3];\n    for x in xs.iter() ‸\n}\n"
    gen = "{\n        println!(\"{}\", x);\n    }\n}\n"
    assert finish("rs", src, gen) == "{\n        println!(\"{}\", x);\n    }"


def test_rust_broken_line_is_refused():
    src = "fn main() {\n    let x = ‸\n}\n"
    assert finish("rs", src, "vec![1, 2;\n") == ""


def test_suffix_duplicate_lines_dropped_in_python():
    src = "def area(w, h):\n    ‸\n    return result\n"
    assert finish("py", src, "result = w * h\n    return result\n") == "result = w * h"


def checked(language: str, source: str, answer: str) -> str:
    """Post-processing with the tree-sitter check of an answer the rule has already cut."""
    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    doc = Document(f"file:///t.{language}", text, 1, language)
    ctx = analyze_cursor(text[:offset], text[offset:], line_comment=doc.language.comment_prefix)
    return postprocess(answer, ctx, insertion_checker(doc, offset))


# The hole lacks the end of one block and the start of the next; the code below the cursor is
# the next block's body, and the answer's first line is the same code one level up.
SAME_CODE_AT_ANOTHER_LEVEL = {
    "py": (
        "def is_prime(n):\n    if n < 2:\n‸            return False\n    return True\n",
        "        return False\n    for k in range(2, n):\n        if n % k == 0:",
    ),
    "js": (
        "function isPrime(n) {\n  if (n < 2) {\n‸      return false;\n    }\n  }\n  return true;\n}\n",
        "    return false;\n  }\n  for (let k = 2; k < n; k++) {\n    if (n % k === 0) {",
    ),
    "go": (
        "package main\n\nfunc isPrime(n int) bool {\n\tif n < 2 {\n‸\t\t\treturn false\n\t\t}\n\t}\n\treturn true\n}\n",
        "\t\treturn false\n\t}\n\tfor k := 2; k < n; k++ {\n\t\tif n%k == 0 {",
    ),
    "rs": (
        "fn is_prime(n: u32) -> bool {\n    if n < 2 {\n‸            return false;\n        }\n    }\n    true\n}\n",
        "        return false;\n    }\n    for k in 2..n {\n        if n % k == 0 {",
    ),
}


@pytest.mark.parametrize("language", sorted(SAME_CODE_AT_ANOTHER_LEVEL))
def test_the_code_below_at_another_indentation_is_not_a_repeat(language):
    source, answer = SAME_CODE_AT_ANOTHER_LEVEL[language]
    assert checked(language, source, answer) == answer + "\n"
    # At the indentation of the code below, the same line is a repeat: it and what follows go.
    below = source.split(CURSOR)[1].split("\n")[0]
    assert checked(language, source, answer + "\n" + below + "\n" + answer) == answer + "\n"
    # As the answer's last line, the code below at another indentation counts as a repeat too.
    first = answer.split("\n")[0]
    assert checked(language, source, first) == ""


def test_rest_of_line_duplicate_dropped_in_javascript():
    src = "if (isReady(‸)) {\n  start();\n}\n"
    assert finish("js", src, "config)) {") == "config"


def test_cursor_before_code_inserts_whole_lines_above_it():
    src = "def mean(xs):\n‸    return total / len(xs)\n"
    got = finish("py", src, "    total = sum(xs)\n    return total / len(xs)\n")
    assert got == "    total = sum(xs)\n"
    ctx = analyze_cursor("def mean(xs):\n", "    return total / len(xs)\n")
    assert ctx.mode == "block" and ctx.insert_lines and ctx.cursor_indent == 4


def test_blank_line_in_column_zero_takes_the_indentation_of_the_next_code():
    src = "def f(xs):\n    out = []\n‸\n    return out\n\nprint(f([1]))\n"
    got = finish("py", src, "    for x in xs:\n        out.append(x)\n\nprint(f([2]))\n")
    assert got == "    for x in xs:\n        out.append(x)"


def test_insert_lines_refused_when_they_break_the_code_below():
    src = "def f(x):\n‸    return x\n"
    assert finish("py", src, "    y = (x +\n") == ""


def test_mid_block_completes_one_statement_or_the_block_it_opens():
    src = "def f(xs):\n    total = 0\n    ‸\n    return total\n"
    assert finish("py", src, "total = sum(xs)\n    print(total)\n") == "total = sum(xs)"
    assert finish("py", src, "for x in xs:\n        total += x\n    print(total)\n") == "for x in xs:\n        total += x"
    # at the end of a block (the code after is dedented) a run of statements is fine
    src_end = "def f(xs):\n    total = 0\n    ‸\n\nprint(f([1]))\n"
    assert finish("py", src_end, "for x in xs:\n        total += x\n    return total\n\nprint(1)\n") == "for x in xs:\n        total += x\n    return total"


def test_opener_whose_body_is_already_below_is_one_line():
    src = "def f(n):\n    primes = []\n‸        primes.append(n)\n    return primes\n"
    assert finish("py", src, "    for i in range(n):\n        primes.append(i)\n") == "    for i in range(n):\n"
    js = "function f(xs) {\n  ‸\n    total += x;\n  }\n}\n"
    assert finish("js", js, "for (const x of xs) {\n    total += x;\n  }\n") == "for (const x of xs) {"


# --- multi-line holes: look past the conservative end for the model repeating the code below ---

from codex_ls.stops import block_steps, body_floor, header_body_jump, indent_unit, indentation_hint, indentation_levels  # noqa: E402


def run_rule_finished(prefix, suffix, generated, look_past, floor=4):
    rule = StopRule(analyze_cursor(prefix, suffix), max_lines=12, floor=floor, look_past=look_past)
    for i in range(1, len(generated) + 1):
        cut = rule(generated[:i])
        if cut is not None:
            return generated[:i][:cut]
    return generated[: rule.decide(generated, finished=True)]


XOR_PREFIX = "def xor(i, j):\n    if i == j:\n"
XOR_SUFFIX = "        return '1'\n    return 0\n"


def test_look_past_keeps_every_line_before_the_model_repeats_the_suffix():
    gen = "        return '0'\n    else:\n        return '1'\n    return 0\n"
    assert run_rule_finished(XOR_PREFIX, XOR_SUFFIX, gen, look_past=6) == "        return '0'\n    else:"
    # without looking past, one statement in the middle of a block
    assert run_rule_finished(XOR_PREFIX, XOR_SUFFIX, gen, look_past=0) == "        return '0'"


def test_look_past_judges_a_repeat_at_the_end_of_its_line():
    rule = StopRule(analyze_cursor(XOR_PREFIX, XOR_SUFFIX), floor=4, look_past=6)
    assert rule("        return '0'\n    else:\n        return '") is None
    assert rule("        return '0'\n    else:\n        return '1'") is None  # not judged before its end
    cut = rule("        return '0'\n    else:\n        return '1'\n")
    assert cut == len("        return '0'\n    else:")
    # generation cut by its token limit: a long enough prefix of the target counts
    text = "        return '0'\n    else:\n        return '1'"
    assert rule.decide(text, finished=True) == len("        return '0'\n    else:")
    assert rule.decide("        return '0'\n    else:\n        return '", finished=True) == len("        return '0'")


@pytest.mark.parametrize(
    "language, source, generated, kept",
    [
        (  # HumanEval/81's shape: arms that begin like the arm below the hole
            "python",
            "def grade(gpa):\n    out = []\n    if gpa == 4.0:\n        out.append('A+')\n‸\n        out.append('C')\n    return out\n",
            "    elif gpa > 3.7:\n        out.append('A')\n    elif gpa > 2.0:\n        out.append('C')\n    return out\n",
            "    elif gpa > 3.7:\n        out.append('A')\n    elif gpa > 2.0:",
        ),
        (  # HumanEval/129's shape: neighbours of a grid cell, one line each
            "python",
            "def cells(g, i, j):\n    temp = []\n    temp.append(g[i - 1][j])\n‸\n    temp.append(g[i][j + 1])\n    return temp\n",
            "    temp.append(g[i + 1][j])\n    temp.append(g[i][j - 1])\n    temp.append(g[i][j + 1])\n",
            "    temp.append(g[i + 1][j])\n    temp.append(g[i][j - 1])",
        ),
        (
            "javascript",
            "function cells(g, i, j) {\n  const temp = [];\n  temp.push(g[i - 1][j]);\n‸\n  temp.push(g[i][j + 1]);\n  return temp;\n}\n",
            "  temp.push(g[i + 1][j]);\n  temp.push(g[i][j - 1]);\n  temp.push(g[i][j + 1]);\n",
            "  temp.push(g[i + 1][j]);\n  temp.push(g[i][j - 1]);",
        ),
        (
            "go",
            "package g\n\nfunc cells(g [][]int, i, j int) []int {\n\ttemp := []int{}\n\ttemp = append(temp, g[i-1][j])\n‸\n\ttemp = append(temp, g[i][j+1])\n\treturn temp\n}\n",
            "\ttemp = append(temp, g[i+1][j])\n\ttemp = append(temp, g[i][j-1])\n\ttemp = append(temp, g[i][j+1])\n",
            "\ttemp = append(temp, g[i+1][j])\n\ttemp = append(temp, g[i][j-1])",
        ),
        (
            "rust",
            "fn cells(g: &[Vec<i32>], i: usize, j: usize) -> Vec<i32> {\n    let mut temp = vec![];\n    temp.push(g[i - 1][j]);\n‸\n    temp.push(g[i][j + 1]);\n    temp\n}\n",
            "    temp.push(g[i + 1][j]);\n    temp.push(g[i][j - 1]);\n    temp.push(g[i][j + 1]);\n",
            "    temp.push(g[i + 1][j]);\n    temp.push(g[i][j - 1]);",
        ),
    ],
)
def test_look_past_keeps_lines_that_only_begin_like_the_code_below(language, source, generated, kept):
    """Repetitive code: a generated line that begins like the first line below the hole (12+
    characters in common) but ends otherwise is part of the hole, not a repeat."""
    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    comment = "#" if language == "python" else "//"
    rule = StopRule(analyze_cursor(text[:offset], text[offset:], line_comment=comment), floor=1, look_past=6)
    got = None
    for i in range(1, len(generated) + 1):  # token by token (here: char by char), as the engine feeds it
        cut = rule(generated[:i])
        if cut is not None:
            got = generated[:i][:cut]
            break
    assert got == kept


def test_look_past_without_a_repeat_keeps_the_conservative_end():
    gen = "        return '0'\n    x = 1\n    y = 2\n"
    assert run_rule_finished(XOR_PREFIX, XOR_SUFFIX, gen, look_past=6) == "        return '0'"
    # a line below the enclosing body ends the search at once
    rule = StopRule(analyze_cursor(XOR_PREFIX, XOR_SUFFIX), floor=4, look_past=6)
    assert rule("        return '0'\n# Test\n") == len("        return '0'")


def test_body_floor():
    assert body_floor("import os\n\ndef f(x):\n    '''Doc.'''\n    if x:\n        ") == 4
    assert body_floor("class A:\n  def f(self):\n      return 1\n  ") == 2
    assert body_floor("x = 1\ny = 2\n") == 0


def test_indent_unit():
    assert indent_unit("def f():\n    if x:\n        y\n") == "    "
    assert indent_unit("def f():\n  if x:\n    y\n") == "  "
    assert indent_unit("func f() {\n\tif x {\n\t\ty()\n\t}\n}\n") == "\t"
    assert indent_unit("x = 1\n") == "    "


def test_indent_unit_ignores_continuation_lines_and_docstrings():
    # Written for this test: a list continued under its bracket (7 columns deeper) and a
    # docstring whose examples are indented 2 and 3 columns; the block step is 4.
    python = (
        "def to_roman(number):\n"
        '    """Roman numeral of number.\n'
        "\n"
        "    Example:\n"
        "      to_roman(4) == 'IV'\n"
        "    Notes:\n"
        "       no zero\n"
        '    """\n'
        "    num = [1, 4, 5, 9,\n"
        "           10, 40, 50]\n"
        '    sym = ["I", "IV", "V", "IX",\n'
        '           "X", "XL", "L"]\n'
        "    while number:\n"
        "        number -= 1\n"
    )
    assert indent_unit(python) == "    "
    javascript = (
        "function total(items,\n"
        "               tax) {\n"
        "  const sum = items.reduce((a, b) => a + b,\n"
        "                           0);\n"
        "  return sum * tax;\n"
        "}\n"
    )
    assert indent_unit(javascript) == "  "
    # lines inside brackets are not steps; without a block opener any other increase counts
    assert indent_unit("x = [\n        1,\n]\n") == "    "
    assert indent_unit("title\n  first\n  second\n") == "  "


@pytest.mark.parametrize(
    "prefix, suffix, expected",
    [
        ("def f(x):\n    for i in x:\n", "        y(i)\n", "        "),  # the body of an opener
        ("def f(x):\n    for i in x:\n", "    return 1\n", "        "),  # an empty body so far
        ("def f(x):\n    for i in x:\n", "            y(i)\n", "        "),  # deeper code: an opener at +1 step
        ("def f(x):\n    a = 1\n", "        b()\n", "    "),  # the code below is deeper: open it here
        ('def f(x):\n    """Doc."""\n', "\n", "    "),  # after the docstring
        ("def f(x):\n    a = 1\n", "    b()\n", None),  # a dedent may end a block: the model's choice
        ("def f(x):\n    a = 1\n", "b()\n", None),
        # inside brackets the previous line opened, the block rules do not apply
        ("def f(x):\n    names = {\n", "        'six': 6,\n    }\n", None),
        ("def f(x):\n    total = add(x,  # two terms\n", "            1)\n", None),
        ("def f(x):\n    names = {'one': 1}  # {\n", "        b()\n", "    "),  # closed; a comment opens nothing
    ],
)
def test_indentation_hint(prefix, suffix, expected):
    assert indentation_hint(prefix, analyze_cursor(prefix, suffix), "    ") == expected


def test_no_indentation_hint_after_code_on_the_line():
    prefix = "def f(x):\n    for i in x:\n        y = "
    assert indentation_hint(prefix, analyze_cursor(prefix, "\n"), "    ") is None


@pytest.mark.parametrize(
    "prefix, suffix, expected",
    [
        # The loop body may go on, or the loop may end (deepest first); or a line in column 0
        # may open the block that the next line is the body of.
        ("def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n", "    return out\n", ["        ", "    ", ""]),
        # Three open blocks; the next line sits at the function body's level.
        (
            "def f(n):\n    for i in range(n):\n        if i:\n            g(i)\n",
            "    return n\n",
            ["            ", "        ", "    ", ""],
        ),
        # The next line is deeper than the loop: a line one level below it must open its block.
        ("def f(xs):\n    for x in xs:\n        g(x)\n", "            h(x)\n", ["        "]),
        # Blank and comment lines give no level; column 0 is a level at module level.
        ("if a:\n    b()\n\n    # note\n", "c()\n", ["    ", ""]),
        # The cursor's line already holds some indentation: only levels that start with it.
        ("def f(xs):\n    for x in xs:\n        g(x)\n        ", "\n    return 1\n", ["        "]),
        # Code before the cursor on its line: not a new line, no levels.
        ("def f(xs):\n    for x in xs:\n        y = ", "\n", []),
    ],
)
def test_indentation_levels(prefix, suffix, expected):
    assert indentation_levels(prefix, analyze_cursor(prefix, suffix)) == expected


def test_lines_before_the_models_end_token_are_kept_as_the_middle():
    # A model trained for FIM ends the middle with an end token where it joins the code below
    # (Qwen2.5-Coder-1.5B does; the 0.5B rarely): the lines before it are the hole's lines, even
    # without a repeat of the code below.
    gen = "        return '0'\n    else:\n        return '2'"
    rule = StopRule(analyze_cursor(XOR_PREFIX, XOR_SUFFIX), floor=4, look_past=6)
    assert rule.decide(gen, finished=True, ended=True) == len(gen)
    # Ended by a limit instead, the conservative end stands.
    assert rule.decide(gen, finished=True) == len("        return '0'")
    # The same limits as a repeat: below the enclosing body, or more lines than looked past.
    assert rule.decide("        return '0'\nprint(1)", finished=True, ended=True) == len("        return '0'")
    many = "        return '0'\n" + "    x = 1\n" * 7 + "    y = 2"
    assert rule.decide(many, finished=True, ended=True) == len("        return '0'")


def test_expected_text_is_the_rest_of_the_line_below_once_the_model_has_begun_it():
    rule = StopRule(analyze_cursor(XOR_PREFIX, XOR_SUFFIX), floor=4, look_past=6)
    assert rule.expected("        return '0'\n    else:\n        return") == " '1'\n"
    # the model has not begun a code line yet, or its line goes elsewhere, or it is the first line
    # at a line start, the indentation and first word only (a model writing another line rejects
    # it at once); indentation alone is no start of the line below
    assert rule.expected("        return '0'\n    else:\n") == "        return"
    assert rule.expected("        return '0'\n    else:\n        ") is None
    assert rule.expected("        return '0'\n    else:\n        raise") is None
    assert rule.expected("        return") is None
    # the whole line is written: nothing more to expect
    assert rule.expected("        return '0'\n    else:\n        return '1'") is None
    # what it expects, the rule then takes for the repeat that ends the completion
    text = "        return '0'\n    else:\n        return" + rule.expected("        return '0'\n    else:\n        return")
    assert rule(text) == len("        return '0'\n    else:")


def test_expected_text_in_brace_languages_and_above_a_line_of_code():
    prefix = "function f(a) {\n  if (a) {\n"
    suffix = "    return 1;\n  }\n  return 0;\n}\n"
    rule = StopRule(analyze_cursor(prefix, suffix, line_comment="//"), look_past=6)
    assert rule.expected("    a += 1;\n    retu") == "rn 1;\n"
    # the cursor before the code of a line: the expected line is that code, with its indentation
    prefix, suffix = "func f() {\n\t", "return nil\n}\n"
    rule = StopRule(analyze_cursor(prefix, suffix, line_comment="//"), look_past=6)
    assert rule.expected("x := 1\n\tret") == "urn nil\n"
    # line and statement modes expect nothing: they end at the line's end
    assert StopRule(analyze_cursor("x = foo(", ")\n")).expected("a,\n    b") is None
    assert StopRule(analyze_cursor("    x = ", "\n    y = 2\n")).expected("1\n    y") is None


def test_a_dedented_line_ends_the_block_at_its_first_character():
    # Python: the body of the `for` the model opened ends where a line starts left of it
    rule = StopRule(analyze_cursor("def f(xs):\n    total = 0\n    ", "\n"), max_lines=12)
    assert rule("for x in xs:\n        total += x\n# Check") == len("for x in xs:\n        total += x")
    assert rule("for x in xs:\n        total += x\n  ") is None  # only whitespace yet: not known
    # Go, tabs: a line left of the cursor's block, before its end of line
    rule = StopRule(analyze_cursor("func f() {\n\tfor i := 0; i < n; i++ {\n\t\t", "\n\t}\n}\n", line_comment="//"))
    assert rule("sum += i\n\tfmt") == len("sum += i")
    # a closing bracket line is still kept whole (the rule waits for its end)
    rule = StopRule(analyze_cursor("function f(a) {\n", "\n", line_comment="//"))
    assert rule("  if (a) {\n    g();\n  }") is None


def test_look_past_stops_at_the_first_character_of_a_line_below_the_enclosing_body():
    rule = StopRule(analyze_cursor(XOR_PREFIX, XOR_SUFFIX), floor=4, look_past=6)
    assert rule("        return '0'\n# T") == len("        return '0'")
    assert rule("        return '0'\n    x") is None  # still in the body: go on looking


def _floor_and_rule(language, source):
    """The rule for the cursor at ``‸`` in ``source``, with the floor the server computes."""
    from codex_ls.context import function_body_indent
    from codex_ls.documents import Document
    from codex_ls.stops import completion_floor

    offset = source.index("‸")
    text = source.replace("‸", "")
    doc = Document(f"file:///w/a.{ {'python': 'py', 'javascript': 'js', 'rust': 'rs'}[language] }", text, 0, language)
    prefix, suffix = text[:offset], text[offset:]
    ctx = analyze_cursor(prefix, suffix, line_comment="#" if language == "python" else "//")
    floor = completion_floor(prefix, ctx, function_body_indent(doc.tree, doc.byte_offset(offset), doc.source))
    return floor, StopRule(ctx, floor=floor, look_past=6)


@pytest.mark.parametrize(
    "language, source, generated, sibling",
    [
        (
            "python",
            "class Wrapper:\n    def __init__(self, width, tabs):\n        self.width = width\n        ‸\n        self.tabs = tabs\n\n    def wrap(self, text):\n        return text\n",
            "self.height = 0\n\n",
            "    def _split(self, text):\n",
        ),
        (
            "javascript",
            "class Range {\n  constructor(raw) {\n    this.raw = raw;\n    ‸\n    this.set = [];\n  }\n}\n",
            "this.loose = false;\n",
            "  format() {\n",
        ),
        (
            "rust",
            "impl Range {\n    fn new(raw: &str) -> Self {\n        let a = 1;\n        ‸\n        Self { raw }\n    }\n}\n",
            "let b = 2;\n",
            "    fn format(&self) -> String {\n",
        ),
    ],
)
def test_look_past_stops_where_the_model_leaves_the_method_for_the_next_one(language, source, generated, sibling):
    """A hole inside a method: the model's line, then the next method at the class (impl) body
    level. The search for a repeat of the code below ends at that line's first character (the
    rest of the method cannot follow it) instead of going on for ``look_past`` lines."""
    floor, rule = _floor_and_rule(language, source)
    assert floor > body_floor(source[: source.index("‸")])  # the method's body, not the class's
    text = generated + sibling[: len(sibling) - len(sibling.lstrip()) + 1]
    assert rule(text) == len(generated.rstrip("\n"))
    # with the class body as the floor (before), the search went on through the next method
    assert StopRule(rule.ctx, floor=body_floor(source[: source.index("‸")]), look_past=6)(text) is None


def test_the_function_floor_stops_at_the_code_below():
    """At the end of an inner function, the code below is the outer body's: the floor stays
    there, so hole lines at the outer level that lead to the code below are kept."""
    source = "def outer(xs):\n    def inner(x):\n        return x * 2\n‸\n    return inner\n"
    floor, rule = _floor_and_rule("python", source)
    assert floor == 4
    generated = "    inner.calls = 0\n    inner.name = 'double'\n    return inner\n"
    prefix, suffix = source[: source.index("‸")], source[source.index("‸") + 1 :]
    assert run_rule_finished(prefix, suffix, generated, look_past=6, floor=floor) == "    inner.calls = 0\n    inner.name = 'double'"


@pytest.mark.parametrize(
    "language, source, generated, expected",
    [
        (  # a mid-block line, then the model writes the block the code below belongs to, its own way
            "python",
            'def balanced(s):\n    """Brackets match."""\n‸\n        else:\n            depth -= 1\n    return depth == 0\n',
            '    depth = 0\n    for b in s:\n        if b == "(":\n            depth += 1\n        elif b == ")":\n',
            '    depth = 0\n    for b in s:\n        if b == "(":\n            depth += 1',
        ),
        (  # a statement the model writes over two lines: the first alone leaves a bracket open
            "javascript",
            "function f(a, b) {\n  const x = 1;\n‸\n  return y;\n}\n",
            "  const y = Math.max(a,\n    b);\n  log(y);\n",
            "  const y = Math.max(a,\n    b);",
        ),
        (
            "go",
            "package p\n\nfunc f(a, b int) int {\n\tx := 1\n‸\n\treturn y\n}\n",
            "\ty := max(a,\n\t\tb)\n\tlog(y)\n",
            "\ty := max(a,\n\t\tb)",
        ),
        (
            "rust",
            "fn f(a: i32, b: i32) -> i32 {\n    let x = 1;\n‸\n    y\n}\n",
            "    let y = std::cmp::max(a,\n        b);\n    log(y);\n",
            "    let y = std::cmp::max(a,\n        b);",
        ),
    ],
)
def test_a_refused_answer_grows_to_the_shortest_longer_one_that_fits(language, source, generated, expected):
    """The rule ends the answer after its first line (one statement in the middle of a block, or
    the code below is deeper: it is the body of what the model writes), and the model did not
    repeat the code below, so that line alone is refused (it leaves the code below without its
    header, or a bracket open). The lines the model wrote past it are tried, one more at a
    time: the first answer that fits the file is shown."""
    from codex_ls.completion import longer_answer
    from codex_ls.stops import completion_floor

    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    ext = {"python": "py", "javascript": "js", "go": "go", "rust": "rs"}[language]
    doc = Document(f"file:///w/a.{ext}", text, 1, language)
    prefix, suffix = text[:offset], text[offset:]
    ctx = analyze_cursor(prefix, suffix, line_comment=doc.language.comment_prefix)
    rule = StopRule(ctx, floor=completion_floor(prefix, ctx, None), look_past=6)
    for end in range(1, len(generated) + 1):  # as the engine calls it, token by token
        cut = rule(generated[:end])
        if cut is not None:
            break
    else:
        cut = rule.decide(generated, finished=True)
    check = insertion_checker(doc, offset)
    first_line = generated[:cut]
    assert first_line == generated.split("\n")[0]
    assert postprocess(first_line, ctx, check) == ""  # refused on its own
    shown, longer = longer_answer(rule, first_line, ctx, None, check)
    assert longer == expected
    assert shown.rstrip("\n") == expected


def test_no_longer_answer_past_the_enclosing_body_or_when_none_fits():
    source = 'def balanced(s):\n    """Brackets match."""\n‸\n        else:\n            depth -= 1\n    return depth == 0\n'
    from codex_ls.completion import longer_answer

    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    doc = Document("file:///w/a.py", text, 1, "python")
    ctx = analyze_cursor(text[:offset], text[offset:])
    check = insertion_checker(doc, offset)
    # the model left the function (a line in column 0) before writing the block's header
    rule = StopRule(ctx, floor=4, look_past=6)
    assert rule("    depth = 0\n    x = 1\ndef f():\n") == len("    depth = 0")
    assert rule.longer_cuts(len("    depth = 0")) == [len("    depth = 0\n    x = 1")]
    assert longer_answer(rule, "    depth = 0", ctx, None, check) is None
    # no more than look_past lines are tried
    rule = StopRule(ctx, floor=4, look_past=2)
    gen = "    depth = 0\n    a = 1\n    b = 2\n    for b in s:\n        if b:\n            depth += 1\n"
    rule.decide(gen, finished=True)
    assert len(rule.longer_cuts(len("    depth = 0"))) == 2
    assert longer_answer(rule, "    depth = 0", ctx, None, check) is None
    # line mode: nothing longer
    line_ctx = analyze_cursor("x = foo(", ")\n")
    assert StopRule(line_ctx, look_past=6).longer_cuts(0) == []


@pytest.mark.parametrize(
    "language, source, missing_level, whole",
    [
        (
            "python",
            "def count_vowels(words):\n    total = 0\n‸\n            total += 1\n    return total\n",
            "    for word in words:\n",
            "    for word in words:\n        for ch in word.lower():\n",
        ),
        (
            "javascript",
            "function countVowels(words) {\n  let total = 0;\n‸\n      total += 1;\n    }\n  }\n  return total;\n}\n",
            "  for (const word of words) {\n",
            "  for (const word of words) {\n    for (const ch of word) {\n",
        ),
        (
            "go",
            "package p\n\nfunc countVowels(words []string) int {\n\ttotal := 0\n‸\n\t\t\ttotal++\n\t\t}\n\t}\n\treturn total\n}\n",
            "\tfor _, word := range words {\n",
            "\tfor _, word := range words {\n\t\tfor range word {\n",
        ),
        (
            "rust",
            "fn count_vowels(words: &[&str]) -> usize {\n    let mut total = 0;\n‸\n            total += 1;\n        }\n    }\n    total\n}\n",
            "    for word in words {\n",
            "    for word in words {\n        for _ch in word.chars() {\n",
        ),
    ],
)
def test_an_answer_that_leaves_a_body_two_levels_below_its_header_is_refused(language, source, missing_level, whole):
    """The code below is two levels deeper than the line above the hole: an answer that writes
    one header leaves that body a level too deep (valid Python, and the brace languages' own
    check counts the braces only), so it is refused; writing both headers fits."""
    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    ext = {"python": "py", "javascript": "js", "go": "go", "rust": "rs"}[language]
    doc = Document(f"file:///w/a.{ext}", text, 1, language)
    check = insertion_checker(doc, offset)
    assert not check(missing_level)
    assert check(whole)
    ctx = analyze_cursor(text[:offset], text[offset:], line_comment=doc.language.comment_prefix)
    assert postprocess(missing_level, ctx, check) == ""
    assert postprocess(whole, ctx, check) == whole.rstrip("\n")


def test_a_two_level_body_is_allowed_where_the_document_uses_one():
    """Some code indents a body by two steps (HumanEval/95's ``elif``); where the document does,
    an answer may too."""
    source = (
        "def count(words, flags):\n    for f in flags:\n        if f:\n                print(f)\n"
        "    total = 0\n‸\n            total += 1\n    return total\n"
    )
    offset = source.index(CURSOR)
    text = source.replace(CURSOR, "")
    check = insertion_checker(Document("file:///w/a.py", text, 1, "python"), offset)
    assert check("    for word in words:\n")


@pytest.mark.parametrize(
    "head, tail, step, opener, expected",
    [
        ("    for w in ws:\n", "            n += 1\n", 4, ":", True),
        ("    for w in ws:\n        if w:\n", "            n += 1\n", 4, ":", False),
        ("    for w in ws:\n\n", "            n += 1\n", 4, ":", True),  # a blank line ends the insertion
        ("    for w in ws:  # each word\n", "\n    # a comment\n            n += 1\n", 4, ":", True),  # comments are skipped
        ("    for w in ws:\n", "            n += 1\n", 8, ":", False),  # the document's own two-step bodies
        ("    n = f(a,\n", "            b)\n", 4, ":", False),  # a continuation line, no header
        ("    for w in w", "s:\n            n += 1\n", 4, ":", True),  # the insertion ends inside the line
        ("    for w in w", "s:\n        n += 1\n", 4, ":", False),
        ("  if (a) {\n", "      b();\n", 2, "{", True),
        ("  if (a) {\n", "    b();\n", 2, "{", False),
    ],
)
def test_header_body_jump_beyond_the_step_is_a_missing_level(head, tail, step, opener, expected):
    assert (header_body_jump(head, tail, opener) > step) is expected


def test_block_steps():
    text = "def f(x):\n    if x:  # note\n            y()\n    # c\n    while x:\n\n        x -= 1\n    return x\n"
    assert block_steps(text, ":") == {4, 8}
    assert block_steps("function f() {\n  if (a) {\n    b();\n  }\n}\n", "{") == {2}


def test_the_server_looks_past_far_enough_for_a_ten_line_hole():
    """HumanEval/81's shape with a long hole: after the first header (the conservative end: the
    code below is deeper, so it reads as that header's body) the model writes ten more lines
    before it repeats the line below the hole; the server's look-past (``LOOK_PAST_LINES``) keeps
    all of them. At 6 (its earlier value) only that header would be shown."""
    from codex_ls.completion import LOOK_PAST_LINES

    prefix = "def grade(gpa):\n    out = []\n    if gpa == 4.0:\n        out.append('A+')\n"
    suffix = "        out.append('E')\n    return out\n"
    arms = [("3.7", "A"), ("3.3", "A-"), ("3.0", "B+"), ("2.7", "B"), ("2.3", "B-")]
    hole = "".join(f"    elif gpa > {g}:\n        out.append('{l}')\n" for g, l in arms) + "    else:\n"
    generated = hole + suffix
    got = run_rule_finished(prefix, suffix, generated, look_past=LOOK_PAST_LINES)
    assert got == hole.rstrip("\n")
    assert run_rule_finished(prefix, suffix, generated, look_past=6) == "    elif gpa > 3.7:"
