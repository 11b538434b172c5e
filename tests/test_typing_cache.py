"""Typing through a shown suggestion (pure)."""

from codex_ls.typing_cache import TypingCache

BEFORE = "def area(w, h):\n    return "
AFTER = "\n\nprint(area(2, 3))\n"


def cache_with(text="w * h"):
    cache = TypingCache()
    cache.remember("file:///a.py", BEFORE, AFTER, text)
    return cache


def test_typed_prefix_of_the_suggestion_gives_the_rest():
    cache = cache_with()
    assert cache.lookup("file:///a.py", BEFORE, AFTER) == "w * h"
    assert cache.lookup("file:///a.py", BEFORE + "w", AFTER) == " * h"
    assert cache.lookup("file:///a.py", BEFORE + "w * ", AFTER) == "h"


def test_no_answer_when_the_user_typed_something_else_or_everything():
    cache = cache_with()
    assert cache.lookup("file:///a.py", BEFORE + "x", AFTER) is None
    assert cache.lookup("file:///a.py", BEFORE + "w * h", AFTER) is None  # nothing left
    assert cache.lookup("file:///a.py", BEFORE[:-1], AFTER) is None  # deleted a character
    assert cache.lookup("file:///a.py", BEFORE + "w", AFTER + "x") is None  # the text after changed
    assert cache.lookup("file:///b.py", BEFORE, AFTER) is None  # another document


def test_only_whitespace_left_is_no_answer_and_forget_drops_it():
    cache = cache_with("w * h\n")
    assert cache.lookup("file:///a.py", BEFORE + "w * h", AFTER) is None
    cache.forget("file:///a.py")
    assert cache.lookup("file:///a.py", BEFORE, AFTER) is None


def test_is_typing_means_the_same_line_a_few_characters_on():
    cache = TypingCache()
    assert not cache.is_typing("file:///a.py", 3, 100)  # first request
    assert cache.is_typing("file:///a.py", 3, 101)
    assert cache.is_typing("file:///a.py", 3, 105)
    assert not cache.is_typing("file:///a.py", 3, 105)  # the same position again: a pause
    assert not cache.is_typing("file:///a.py", 4, 110)  # another line
    assert not cache.is_typing("file:///a.py", 4, 200)  # a jump
    assert not cache.is_typing("file:///b.py", 4, 201)  # another document
