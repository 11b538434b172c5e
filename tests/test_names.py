"""The Python names check (codex_ls.names): which names an insertion binds and reads."""

from __future__ import annotations

import pytest

from codex_ls.documents import Document
from codex_ls.names import BUILTIN_NAMES, bound_names, name_checker, scan

SAMPLE = '''import os.path as op, sys
from a.b import c as d, e
def f(x, y=1, *args, z: int = 2, w: str, **kw):
    global G
    with open(x) as fh, g() as (a1, b1):
        pass
    try:
        pass
    except ValueError as err:
        pass
    for i, (j, k) in enumerate(x):
        q = [t for t in x if t]
    a, *b = 1, 2
    o.attr = 3
    s[i] = kw
    n += 1
    (m := 5)
    lam = lambda u, v=1: u
    ann: int = 3
    call(key=value)
    return f"{q}"
class C(Base, metaclass=M):
    pass
'''


def _doc(text: str, language_id: str = "python") -> Document:
    return Document("file:///t.py", text, 0, language_id)


def test_scan_tells_bindings_from_reads():
    doc = _doc(SAMPLE)
    bound, reads = scan(doc, doc.tree.root_node)
    assert bound == {
        "op", "sys", "d", "e", "f", "x", "y", "args", "z", "w", "kw", "G", "fh", "a1", "b1",
        "err", "i", "j", "k", "q", "t", "a", "b", "m", "lam", "u", "v", "ann", "C",
    }
    # Reads: not attribute names, keyword-argument names, module paths, nor an augmented
    # assignment's target as a binding (`n += 1` reads n first).
    assert set(reads) == {
        "int", "str", "open", "x", "g", "ValueError", "enumerate", "t", "o", "s", "i", "kw",
        "n", "u", "call", "value", "q", "Base", "M",
    }
    assert reads["x"] == SAMPLE.index("open(x)") + len("open(")  # byte of the first read


def _checker(source: str):
    text = source.replace("<C>", "")
    return name_checker(_doc(text), source.index("<C>"))


CONCAT = '''def shout(words):
    """The words, upper-cased and joined."""
<C>    for w in words:
        res += w.upper()
    return res
'''


def test_a_name_the_code_below_reads_must_be_bound_by_the_insertion():
    ok = _checker(CONCAT)
    assert list(ok.needed) == ["res"]  # `res += ...` reads it; nothing binds it
    assert ok("    res = ''\n")
    assert ok("    res: str = ''\n")
    assert ok("    res, n = '', 0\n")
    assert not ok("    return res\n")
    assert not ok("    res += ''\n")  # an augmented assignment does not bind
    assert not ok("    print(words)\n")


def test_an_insertion_may_not_read_a_name_bound_nowhere():
    ok = _checker(CONCAT)
    assert not ok("    res = prefix\n")  # `prefix` exists nowhere
    assert not ok("    res = res + ''\n")  # reads what it is binding, bound nowhere before
    assert ok("    res = str(len(words))\n")  # builtins and parameters are bound
    assert ok("    sep = ''\n    res = sep\n")  # a name the insertion bound itself


def test_only_the_function_around_the_cursor_counts():
    source = CONCAT + '''

def other():
    return missing_name
'''
    assert list(_checker(source).needed) == ["res"]


def test_nothing_is_needed_when_the_code_below_binds_it_or_reads_builtins():
    ok = _checker('''def total(xs):
<C>    res = 0
    for x in xs:
        res += abs(x)
    return res, __name__
''')
    assert dict(ok.needed) == {}
    assert ok("    print(len(xs))\n")


def test_a_star_import_or_another_language_turns_the_check_off():
    assert _checker("from os.path import *\n" + CONCAT) is None
    text = "function f() {\n  \n  return res;\n}\n"
    assert name_checker(_doc(text, "javascript"), text.index("  \n") + 2) is None


@pytest.mark.parametrize("name", ["len", "print", "ValueError", "__file__", "__name__"])
def test_builtins_and_module_attributes_need_no_binding(name):
    assert name in BUILTIN_NAMES


def test_the_bound_names_of_a_whole_file_are_those_scan_finds():
    doc = _doc(SAMPLE)
    assert bound_names(doc, doc.tree) == scan(doc, doc.tree.root_node)[0]
    broken = _doc("def f(:\n    if x = :\n        y = ghost +\n")  # names inside ERROR nodes count as bound
    assert {"ghost", "y"} <= bound_names(broken, broken.tree)  # `x` is the condition the `if` reads
