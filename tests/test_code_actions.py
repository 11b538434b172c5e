"""The pure core of the code actions (codex_ls.actions): finding them, the prompt, checking the answer.

No server and no model: documents are parsed with tree-sitter, answers are written by hand
(the shapes a chat model gives: fenced, with prose, echoing the signature and docstring).
"""

from __future__ import annotations

import hashlib

import pytest

from codex_ls.actions import (
    EDIT,
    GENERATE,
    IMPLEMENT,
    apply_edits,
    build_messages,
    extract_code,
    find_targets,
    indent_unit,
    plan_edit,
    reindent,
)
from codex_ls.actions.answer import unimported_modules
from codex_ls.actions.find import describes_code, is_todo_comment
from codex_ls.documents import Document
from codex_ls.queries import load_query


def doc_of(text: str, ext: str) -> Document:
    return Document(f"file:///work/sample.{ext}", text, 1, None)


def at(doc: Document, line: int, character: int = 0) -> int:
    return doc.offset_at(line, character)


def kinds(targets) -> list[str]:
    return [t.kind for t in targets]


# -- queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "tsx", "go", "rust"])
def test_code_action_queries_compile_and_name_their_captures(language):
    query = load_query(language, "code_actions")
    assert query is not None
    names = {query.capture_name(i) for i in range(query.capture_count)}
    assert {"function", "function.name", "function.body", "comment", "import", "class"} <= names


# -- Implement function ----------------------------------------------------------------------

PLACEHOLDER_BODIES = [
    ("py", "def area(r: float) -> float:\n    \"\"\"Area of a circle of radius r.\"\"\"\n    pass\n", "area", "\n    pass"),
    ("py", "class Shape:\n    def area(self) -> float:\n        ...\n", "area", "\n        ..."),
    ("py", "def area(r):\n    raise NotImplementedError('later')\n", "area", "\n    raise NotImplementedError('later')"),
    ("py", "def area(r):\n    \"\"\"Area of a circle of radius r.\"\"\"\n", "area", ""),
    ("py", "def area(r):\n    import math\n    \"\"\"Area of a circle of radius r.\"\"\"\n    pass\n", "area", "\n    pass"),
    ("js", "// Area of a circle.\nfunction area(r) {\n  // TODO\n}\n", "area", "\n  // TODO\n"),
    ("js", "class Shape {\n  area() {\n    throw new Error('not implemented');\n  }\n}\n", "area", "\n    throw new Error('not implemented');\n  "),
    ("js", "const area = (r) => {};\n", "area", ""),
    ("ts", "export function area(r: number): number {\n}\n", "area", "\n"),
    ("go", "package geo\n\n// Area of a circle.\nfunc Area(r float64) float64 {\n\tpanic(\"not implemented\")\n}\n", "Area", "\n\tpanic(\"not implemented\")\n"),
    ("rs", "/// Area of a circle.\nfn area(r: f64) -> f64 {\n    todo!()\n}\n", "area", "\n    todo!()\n"),
    ("rs", "impl Shape {\n    pub fn area(&self) -> f64 {\n        unimplemented!()\n    }\n}\n", "area", "\n        unimplemented!()\n    "),
]


@pytest.mark.parametrize("ext,text,name,replaced", PLACEHOLDER_BODIES, ids=[f"{e}-{i}" for i, (e, *_r) in enumerate(PLACEHOLDER_BODIES)])
def test_implement_function_is_offered_on_placeholder_bodies(ext, text, name, replaced):
    doc = doc_of(text, ext)
    line = next(i for i, l in enumerate(text.split("\n")) if name in l and ("def " in l or "fn " in l or "func " in l or "function " in l or "=>" in l or l.strip().startswith(name)))
    targets = find_targets(doc, at(doc, line, len(text.split("\n")[line]) // 2))
    assert kinds(targets) == [IMPLEMENT]
    target = targets[0]
    assert target.name == name and target.title == f"Implement function {name}"
    assert text[target.start : target.end] == replaced
    assert "pass" not in target.snippet and "todo!" not in target.snippet and "TODO" not in target.snippet
    assert name in target.snippet


@pytest.mark.parametrize(
    "ext,text",
    [
        ("py", "def area(r):\n    return 3.14 * r * r\n"),
        ("js", "function area(r) {\n  return Math.PI * r * r;\n}\n"),
        ("go", "package geo\n\nfunc Area(r float64) float64 {\n\treturn r * r\n}\n"),
        ("rs", "fn area(r: f64) -> f64 {\n    r * r\n}\n"),
    ],
)
def test_implement_function_is_not_offered_on_real_code(ext, text):
    doc = doc_of(text, ext)
    assert find_targets(doc, at(doc, 1, 4)) == []
    assert find_targets(doc, at(doc, 0, 3)) == []


def test_body_indentation_comes_from_the_document():
    doc = doc_of("package geo\n\nfunc Area(r float64) float64 {\n}\n", "go")
    (target,) = find_targets(doc, at(doc, 2, 5))
    assert target.indent == "\t" and target.indent_unit == "\t"
    doc = doc_of("class A:\n  def f(self):\n    pass\n", "py")
    (target,) = find_targets(doc, at(doc, 1, 6))
    assert target.indent == "    " and target.indent_unit == "  "


# -- Generate code from comment --------------------------------------------------------------


def test_generate_from_comment_on_the_comment_and_on_the_blank_line_below():
    text = "def main(rows):\n    # sort the rows by name and print each one\n    \n    return rows\n"
    doc = doc_of(text, "py")
    (on_comment,) = find_targets(doc, at(doc, 1, 10))
    assert on_comment.kind == GENERATE and on_comment.instruction == "sort the rows by name and print each one"
    assert on_comment.start == on_comment.end == text.index("\n    \n")  # end of the comment line
    assert on_comment.indent == "    "
    (on_blank,) = find_targets(doc, at(doc, 2, 4))
    assert text[on_blank.start : on_blank.end] == "\n    "  # the blank line is replaced by the code


def test_generate_joins_adjacent_comment_lines():
    text = "fn main() {\n    // read numbers from stdin,\n    // then print their sum\n}\n"
    doc = doc_of(text, "rs")
    targets = [t for t in find_targets(doc, at(doc, 1, 8)) if t.kind == GENERATE]
    assert len(targets) == 1
    assert targets[0].instruction == "read numbers from stdin,\nthen print their sum"
    assert targets[0].start == text.index("sum") + 3


@pytest.mark.parametrize(
    "ext,text,line",
    [
        ("py", "#!/usr/bin/env python3\nimport os\n", 0),
        ("py", "x = 1  # the answer to everything\n", 0),
        ("py", "# type: ignore[attr-defined]\nx = 1\n", 0),
        ("py", "# Return the area of a circle.\ndef area(r):\n    return r\n", 0),  # documents the def below
        ("go", "package geo\n\n// Area returns the area.\nfunc Area() {}\n", 2),
        ("js", "// eslint-disable-next-line no-console\nconsole.log(1);\n", 0),
        ("py", "# TODO\n", 0),
    ],
)
def test_generate_is_not_offered_on_comments_that_do_not_ask_for_code(ext, text, line):
    doc = doc_of(text, ext)
    assert GENERATE not in kinds(find_targets(doc, at(doc, line, 3)))


def test_comment_classification():
    assert describes_code("retry 3 times with backoff")
    assert not describes_code("noqa: E501")
    assert not describes_code("TODO")
    assert is_todo_comment("TODO: implement") and is_todo_comment("not implemented")
    assert not is_todo_comment("parse the CSV and return rows as dicts")


# -- Edit selection --------------------------------------------------------------------------


def test_edit_selection_takes_the_instruction_from_the_comment_above():
    text = "def g(rows):\n    # sort by name, newest first\n    rows.sort()\n    return rows\n"
    doc = doc_of(text, "py")
    targets = find_targets(doc, at(doc, 2, 4), at(doc, 2, 15))
    assert kinds(targets) == [EDIT]
    assert targets[0].instruction == "sort by name, newest first"
    assert text[targets[0].start : targets[0].end] == "    rows.sort()"  # whole lines


def test_edit_selection_with_an_instruction_argument_and_line_mode_selection():
    text = "fn f(v: Vec<i32>) -> i32 {\n    let mut s = 0;\n    for x in v { s += x; }\n    s\n}\n"
    doc = doc_of(text, "rs")
    assert find_targets(doc, at(doc, 1), at(doc, 3)) == []  # no instruction: not offered
    (target,) = find_targets(doc, at(doc, 1), at(doc, 3), instruction="use an iterator sum", kinds=(EDIT,))
    assert text[target.start : target.end] == "    let mut s = 0;\n    for x in v { s += x; }"


# -- the answer ------------------------------------------------------------------------------


def test_extract_code_from_fences_unclosed_fences_and_prose():
    assert extract_code("Here is the code:\n```python\nx = 1\n```\nThis sets x.") == "x = 1"
    assert extract_code("```go\nfmt.Println(1)\nfmt.Println(2)") == "fmt.Println(1)\nfmt.Println(2)"
    assert extract_code("Sure, here is the implementation:\nreturn a + b\nThis returns the sum of the two numbers.") == "return a + b"
    assert extract_code("```\n```") == ""


def test_reindent_changes_units_and_keeps_structure():
    code = "if x:\n  y()\n  if z:\n    w()"
    assert reindent(code, "\t", "\t") == "\tif x:\n\t\ty()\n\t\tif z:\n\t\t\tw()"
    assert reindent("\n\n    a\n\n        b\n", "  ", "    ") == "  a\n\n      b"
    assert reindent("\tfoo()\n\t\tbar()", "    ", "    ") == "    foo()\n        bar()"


HUMANEVAL_LIKE = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ Detect if at any point the balance falls below zero.
    >>> below_zero([1, 2, -4, 5])
    True
    """
    pass
'''


def implemented(text: str, row: int, column: int, answer: str, edits: int | None = None) -> tuple[str, dict]:
    """*Implement function* at ``row``:``column`` of the Python ``text`` with ``answer``: the
    edited text (the plan must be accepted, with ``edits`` edits when given) and its namespace
    once run."""
    doc = doc_of(text, "py")
    (target,) = find_targets(doc, at(doc, row, column))
    plan = plan_edit(doc, target, answer)
    assert plan.refused is None, plan.refused
    assert edits is None or len(plan.edits) == edits
    result = apply_edits(text, plan.edits)
    scope: dict = {}
    exec(result, scope)
    return result, scope


def test_implement_keeps_signature_and_docstring_and_takes_the_answers_body():
    answer = (
        "Here is the implementation:\n```python\nfrom typing import List\n\n"
        "def below_zero(operations: List[int]) -> bool:\n"
        '    """ Detect if at any point the balance falls below zero."""\n'
        "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n    return False\n```\n"
    )
    result, scope = implemented(HUMANEVAL_LIKE, 3, 6, answer, edits=1)
    assert result.startswith(HUMANEVAL_LIKE[: HUMANEVAL_LIKE.index("    pass")])  # signature and docstring unchanged
    assert "pass" not in result and result.count('"""') == 2
    assert scope["below_zero"]([1, 2, -4, 5]) is True and scope["below_zero"]([1, 2]) is False


def test_implement_adds_missing_imports_and_helpers_in_one_plan():
    text = "def count_primes(n: int) -> int:\n    \"\"\"Primes below n.\"\"\"\n    pass\n"
    answer = (
        "```python\nimport math\n\ndef is_prime(k):\n    if k < 2:\n        return False\n"
        "    return all(k % d for d in range(2, math.isqrt(k) + 1))\n\n"
        "def count_primes(n: int) -> int:\n    return sum(1 for k in range(n) if is_prime(k))\n```"
    )
    result, scope = implemented(text, 0, 5, answer, edits=3)
    assert scope["count_primes"](10) == 4
    assert result.index("import math") < result.index("def is_prime") < result.index("def count_primes")


def test_standard_library_modules_the_answer_uses_without_importing_are_imported():
    text = '"""Hashes."""\nfrom typing import Optional\n\n\ndef digest(text: str, string: str = "") -> Optional[str]:\n    """The md5 of text."""\n    pass\n'
    # hashlib and re are used and never imported; `string` is a parameter here (not the
    # module); `os` is only in a comment; `math` is imported by the answer itself.
    answer = (
        "```python\nimport math\n\ndef digest(text: str, string: str = \"\") -> Optional[str]:\n"
        "    # not os.path\n    if not text:\n        return None\n"
        "    text = re.sub(r'\\s+', ' ', text) + string.strip() * int(math.floor(0.5))\n"
        "    return hashlib.md5(text.encode()).hexdigest()\n```"
    )
    result, scope = implemented(text, 6, 5, answer)
    header = result[: result.index("def digest")]
    assert header == '"""Hashes."""\nfrom typing import Optional\nimport math\nimport hashlib\nimport re\n\n\n'
    assert scope["digest"]("a  b") == hashlib.md5(b"a b").hexdigest() and scope["digest"]("") is None


def test_no_module_import_where_the_name_is_bound_or_not_python():
    text = "import hashlib as h\n\ndef f(random):\n    pass\n"
    doc = doc_of(text, "py")
    assert unimported_modules(doc, "    return random.choice(x) + h.md5().hexdigest()") == ()
    assert unimported_modules(doc, "    time = 3\n    return time.sleep(1)") == ()
    assert unimported_modules(doc, "    return time.time()") == ("import time",)
    js = doc_of("function f() {\n  // TODO\n}\n", "js")
    assert unimported_modules(js, "  return math.floor(2.5);") == ()


@pytest.mark.parametrize(
    "ext,text,answer,expected",
    [
        ("go", "package geo\n\nfunc Area(r float64) float64 {\n\tpanic(\"todo\")\n}\n",
         "```go\nfunc Area(r float64) float64 {\n    return 3.14 * r * r\n}\n```",
         "package geo\n\nfunc Area(r float64) float64 {\n\treturn 3.14 * r * r\n}\n"),
        ("rs", "fn area(r: f64) -> f64 {\n    todo!()\n}\n",
         "```rust\nfn area(r: f64) -> f64 {\n  std::f64::consts::PI * r * r\n}\n```",
         "fn area(r: f64) -> f64 {\n    std::f64::consts::PI * r * r\n}\n"),
        ("js", "function area(r) {\n  // TODO\n}\n",
         "```javascript\nreturn Math.PI * r * r;\n```",
         "function area(r) {\n  return Math.PI * r * r;\n}\n"),
    ],
)
def test_implement_in_brace_languages(ext, text, answer, expected):
    doc = doc_of(text, ext)
    (target,) = find_targets(doc, at(doc, 0, 6) if ext != "go" else at(doc, 2, 6))
    plan = plan_edit(doc, target, answer)
    assert plan.refused is None
    assert apply_edits(text, plan.edits) == expected


def test_answer_that_breaks_the_syntax_is_refused_and_changes_nothing():
    text = "struct Point {\n    // the x and y coordinates\n}\n"
    doc = doc_of(text, "rs")
    (target,) = find_targets(doc, at(doc, 1, 8))
    plan = plan_edit(doc, target, "```rust\nlet x = 1;\n```")
    assert plan.edits == () and "syntax errors" in plan.refused
    assert plan.errors_after > plan.errors_before == 0
    ok = plan_edit(doc, target, "```rust\nx: f64,\ny: f64,\n```")
    assert ok.refused is None
    assert apply_edits(text, ok.edits) == "struct Point {\n    // the x and y coordinates\n    x: f64,\n    y: f64,\n}\n"


def test_answer_without_code_is_refused():
    doc = doc_of("def f():\n    pass\n", "py")
    (target,) = find_targets(doc, at(doc, 0, 4))
    assert plan_edit(doc, target, "```python\n```").refused == "the model's answer held no code"


@pytest.mark.parametrize(
    "ext,text,answer",
    [
        ("py", "def f():\n    pass\n", "```python\ndef f():\n    \"\"\"Doc.\"\"\"\n    # to do\n    pass\n```"),
        ("rs", "fn f() -> u8 {\n    todo!()\n}\n", "```rust\nfn f() -> u8 {\n    // the answer\n    unimplemented!()\n}\n```"),
        ("js", "function f() {\n  // TODO\n}\n", "```javascript\nfunction f() {\n  throw new Error('not implemented');\n}\n```"),
    ],
)
def test_answer_that_only_restates_the_placeholder_is_refused(ext, text, answer):
    doc = doc_of(text, ext)
    (target,) = find_targets(doc, at(doc, 0, 4))
    assert plan_edit(doc, target, answer).refused == "the model's answer held no code"


def test_generate_drops_the_echoed_comment_and_the_repeated_following_code():
    text = "def main(rows):\n    # print each row\n    return rows\n"
    doc = doc_of(text, "py")
    (target,) = find_targets(doc, at(doc, 1, 8))
    plan = plan_edit(doc, target, "```python\n# print each row\nfor row in rows:\n    print(row)\nreturn rows\n```")
    assert apply_edits(text, plan.edits) == "def main(rows):\n    # print each row\n    for row in rows:\n        print(row)\n    return rows\n"


# -- the prompt ------------------------------------------------------------------------------


def test_prompt_has_language_indentation_imports_class_and_related_functions():
    text = (
        "import csv\nfrom pathlib import Path\n\n\nclass Inventory:\n    def __init__(self):\n        self.items = {}\n\n"
        "    def add(self, name: str, count: int) -> None:\n        \"\"\"Add count of name.\"\"\"\n        self.items[name] = self.items.get(name, 0) + count\n\n"
        "    def load_csv(self, path: Path) -> None:\n        \"\"\"Read name,count rows from path and add them.\"\"\"\n        pass\n"
    )
    doc = doc_of(text, "py")
    other = Document("file:///work/parsing.py", "def parse_row(line: str) -> tuple[str, int]:\n    \"\"\"Split a CSV row into name and count.\"\"\"\n    a, b = line.split(',')\n    return a, int(b)\n", 1, "python")
    (target,) = find_targets(doc, at(doc, 12, 10))
    messages = build_messages(doc, target, [other])
    assert [role for role, _ in messages] == ["system", "user"]
    system, user = messages[0][1], messages[1][1]
    assert "code only" in system
    assert "Language: Python. Indentation: 4 spaces." in user
    assert "import csv" in user and "from pathlib import Path" in user
    assert "class Inventory:" in user and "self.items = {}" in user  # the constructor is kept
    assert '"""Add count of name."""' in user and "self.items.get(name, 0) + count" not in user  # other bodies elided
    assert "def parse_row(line: str) -> tuple[str, int]:" in user and "Split a CSV row" in user
    assert "a, b = line.split" not in user
    assert "```python" in user and "Implement the function `load_csv`" in user


def test_prompt_for_generate_marks_the_insertion_point():
    text = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\t// print hello three times\n}\n"
    doc = doc_of(text, "go")
    target = next(t for t in find_targets(doc, at(doc, 5, 5)) if t.kind == GENERATE)
    user = build_messages(doc, target)[1][1]
    assert "Indentation: tabs." in user and 'import "fmt"' in user
    assert "\t<<< new code here >>>" in user and "print hello three times" in user and "```go" in user


def test_indent_unit_detection():
    assert indent_unit("a:\n  b\n  c:\n    d\n", "python") == "  "
    assert indent_unit("func f() {\n\tx()\n}\n", "go") == "\t"
    assert indent_unit("", "go") == "\t" and indent_unit("", "python") == "    "


def test_generation_can_stop_when_the_first_code_block_closes():
    from codex_ls.actions import code_block_end

    assert code_block_end("Sure.\n```python\nx = 1\n") is None  # still open
    answer = "```python\nx = 1\n```\nThis sets x to one."
    cut = code_block_end(answer)
    assert cut is not None and extract_code(answer[:cut]) == "x = 1"
    assert code_block_end("no code at all") is None


# -- the feature's pure helpers ----------------------------------------------------------------


def test_client_capabilities_choose_resolve_or_command():
    from pytest_lsp import client_capabilities

    from codex_ls.features.code_action import client_resolves_edits

    assert client_resolves_edits(client_capabilities("visual-studio-code"))
    assert client_resolves_edits(client_capabilities("neovim@v0.11.0"))
    assert not client_resolves_edits(client_capabilities("emacs"))
    assert not client_resolves_edits(None)


def test_only_filter_selects_kinds_by_prefix():
    from codex_ls.features.code_action import _wanted_kinds

    assert _wanted_kinds(None) is None
    assert _wanted_kinds(["refactor"]) == (GENERATE, IMPLEMENT, EDIT)
    assert _wanted_kinds(["refactor.rewrite.codexLs.editSelection"]) == (EDIT,)
    assert _wanted_kinds(["quickfix", "source"]) == ()


@pytest.mark.parametrize(
    "data",
    [None, "x", {"uri": 1}, {"uri": "file:///a.py", "kind": "implement"}, {"uri": "file:///a.py", "kind": "nope", "range": {}},
     {"uri": "file:///a.py", "kind": "edit", "range": {"start": {"line": "0", "character": 0}, "end": {"line": 0, "character": 0}}},
     {"uri": "file:///a.py", "kind": "edit", "instruction": 3, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}],
)
def test_malformed_action_data_is_an_invalid_params_error(data):
    from pygls.exceptions import JsonRpcInvalidParams

    from codex_ls.features.code_action import _parse_data

    with pytest.raises(JsonRpcInvalidParams):
        _parse_data(data)


def test_go_imports_are_added_per_missing_path():
    text = 'package main\n\nimport (\n\t"fmt"\n)\n\n// Join the words with commas and print them.\nfunc Show(words []string) {\n}\n'
    doc = doc_of(text, "go")
    (target,) = find_targets(doc, at(doc, 7, 6))
    answer = '```go\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc Show(words []string) {\n\tfmt.Println(strings.Join(words, ","))\n}\n```'
    plan = plan_edit(doc, target, answer)
    assert plan.refused is None
    result = apply_edits(text, plan.edits)
    assert result.count('"fmt"') == 1 and 'import "strings"' in result
    assert "\tfmt.Println(strings.Join(words, \",\"))\n}" in result


@pytest.mark.parametrize("ext", ["py", "rs"])
def test_answer_prefix_holds_the_signature_and_a_continued_answer_is_accepted(ext):
    from codex_ls.actions import answer_prefix

    if ext == "py":
        text, body = HUMANEVAL_LIKE, "    return any(sum(operations[: i + 1]) < 0 for i in range(len(operations)))\n```"
        doc = doc_of(text, ext)
        (target,) = find_targets(doc, at(doc, 3, 6))
    else:
        text, body = "/// Sum of a slice.\nfn total(v: &[i32]) -> i32 {\n    todo!()\n}\n", "    v.iter().sum()\n}\n```"
        doc = doc_of(text, ext)
        (target,) = find_targets(doc, at(doc, 1, 4))
    prefix = answer_prefix(target)
    assert prefix.startswith("```") and target.name in prefix
    assert "pass" not in prefix and "todo!" not in prefix and not prefix.rstrip().endswith("}")
    plan = plan_edit(doc, target, prefix + body)
    assert plan.refused is None
    result = apply_edits(text, plan.edits)
    assert body.split("\n")[0].strip() in result and result.count(target.name) == text.count(target.name)


def test_generate_keeps_only_the_new_code_when_the_answer_repeats_the_function():
    text = 'fn main() {\n    let names = vec!["b", "a"];\n    // print each name on its own line\n}\n'
    doc = doc_of(text, "rs")
    target = next(t for t in find_targets(doc, at(doc, 2, 8)) if t.kind == GENERATE)
    answer = '```rust\nfn main() {\n    let names = vec!["b", "a"];\n    // print each name on its own line\n    for name in names {\n        println!("{}", name);\n    }\n}\n```'
    plan = plan_edit(doc, target, answer)
    assert plan.refused is None
    assert apply_edits(text, plan.edits) == (
        'fn main() {\n    let names = vec!["b", "a"];\n    // print each name on its own line\n'
        '    for name in names {\n        println!("{}", name);\n    }\n}\n'
    )


def test_generate_drops_an_echoed_insertion_marker():
    text = "function main() {\n  const names = ['b', 'a'];\n  // sort the names alphabetically and log each one\n}\n"
    doc = doc_of(text, "js")
    target = next(t for t in find_targets(doc, at(doc, 2, 6)) if t.kind == GENERATE)
    answer = ("```javascript\nfunction main() {\n  const names = ['b', 'a'];\n  // sort the names alphabetically and log each one\n"
              "  names.sort((a, b) => a.localeCompare(b));\n  <<< new code here >>>\n}\n```")
    plan = plan_edit(doc, target, answer)
    assert plan.refused is None
    assert apply_edits(text, plan.edits) == text.replace("each one\n", "each one\n  names.sort((a, b) => a.localeCompare(b));\n")


def test_implement_keeps_imports_that_open_the_body_and_leaves_them_out_of_the_instruction():
    text = 'def area(r):\n    import math\n    """Area of a circle of radius r."""\n    pass\n'
    doc = doc_of(text, "py")
    (target,) = find_targets(doc, at(doc, 0, 5))
    assert target.instruction == "Area of a circle of radius r."
    assert "import math" in target.snippet
    result, scope = implemented(text, 0, 5, "```python\ndef area(r):\n    import math\n    return math.pi * r * r\n```")
    assert result.startswith(text[: text.index("    pass")]) and "pass" not in result
    assert abs(scope["area"](1.0) - 3.14159) < 1e-3


def test_short_helpers_of_the_same_file_are_shown_whole():
    long_body = "".join(f"    step_{i} = {i}\n" for i in range(20))
    text = (
        "def encode(s: str) -> str:\n    \"\"\"Shift every letter by 5.\"\"\"\n    return ''.join(chr(ord(c) + 5) for c in s)\n\n\n"
        "def encode_table() -> dict:\n    \"\"\"The shift of every letter.\"\"\"\n" + long_body + "    return {}\n\n\n"
        "def decode(s: str) -> str:\n    \"\"\"Undo encode.\"\"\"\n    pass\n"
    )
    doc = doc_of(text, "py")
    line = text.split("\n").index("def decode(s: str) -> str:")
    (target,) = find_targets(doc, at(doc, line, 5))
    user = build_messages(doc, target)[1][1]
    assert "return ''.join(chr(ord(c) + 5) for c in s)" in user  # short: whole
    assert "The shift of every letter." in user and "step_3" not in user  # long: signature and docstring
