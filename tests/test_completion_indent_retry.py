"""A refused Python line is written again at the other indentation levels it may take
(codex_ls.completion.complete), on the real default model.

When the indentation of a new line is the model's choice, the small model often dedents and
writes the line that already follows the cursor; that answer is dropped as a repeat, and the
line is asked for again at each other level, keeping the answer with the highest mean
log-probability if the model is sure enough of it.
"""

from __future__ import annotations

import math

import pytest

import codex_ls.completion as completion
from codex_ls.documents import Document
from codex_ls.engines.llama import LlamaCppEngine
from codex_ls.model_manager import default_profile
from codex_ls.models import resolve_model
from codex_ls.settings import CompletionSettings

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048)
    yield eng
    eng.close()


def _complete(engine, source: str) -> completion.CompletionOutcome:
    text = source.replace("<C>", "")
    doc = Document("file:///t.py", text, 0, "python")
    return completion.complete(doc, source.index("<C>"), engine, default_profile(), CompletionSettings())


EVENS = '''def squares_of_evens(numbers):
    """The squares of the even numbers, in order."""
    out = []
    for n in numbers:
        if n % 2 == 0:
            sq = n * n
<C>    return out
'''


def test_a_line_that_repeats_the_code_below_is_asked_for_again_one_level_deeper(engine, monkeypatch):
    first = _complete(engine, EVENS)
    assert first.text == "            out.append(sq)\n"
    # The answer is the model's own: without the retry, its first line only repeated `return out`.
    monkeypatch.setattr(completion, "MAX_INDENT_RETRIES", 0)
    monkeypatch.setattr(completion, "FIRST_TOKEN_RETRIES", 0)  # nor the model's other first tokens
    plain = _complete(engine, EVENS)
    assert plain.raw_text.strip() == "return out"
    assert plain.text == ""


WORDS = '''def count_words(lines):
    """Count how often each word occurs."""
    counts = {}
    for line in lines:
        for word in line.split():
            if word in counts:
                counts[word] += 1
            else:
                counts[word] = 1
<C>    return counts
'''


def test_an_unsure_answer_at_another_level_is_not_shown(engine, monkeypatch):
    assert _complete(engine, WORDS).text == ""
    # The retry did find a line that passes the checks; the model was not sure of it.
    monkeypatch.setattr(completion, "RETRY_MIN_LOGPROB", -math.inf)
    shown = _complete(engine, WORDS).text
    assert shown.strip() and shown.startswith("            ")


LOWER_WORDS = '''def lower_words(tokens):
    kept = []
    for tok in tokens:
<C>            kept.append(tok.lower())
    return kept
'''

SCORES = '''def scores(lines):
    total = 0
    for line in lines.split('\\n'):
<C>            total += int(line)
    return total
'''


@pytest.mark.parametrize("source", [LOWER_WORDS, SCORES], ids=["lower_words", "scores"])
def test_a_refused_block_opener_is_asked_for_with_the_models_next_first_tokens(engine, monkeypatch, source):
    # The code below the cursor is deeper than the line before it: the new line must open its
    # block, at the loop body's level. The model's first choice repeats the code below (or
    # dedents), which is refused; its next choices of first token write the opener.
    with monkeypatch.context() as m:
        m.setattr(completion, "FIRST_TOKEN_RETRIES", 0)
        refused = _complete(engine, source)
    assert refused.text == "", refused.text
    answer = _complete(engine, source)
    assert answer.text.startswith("        if ") and answer.text.endswith(":\n") and answer.text.count("\n") == 1, answer.text
    assert answer.generation.mean_logprob is not None and answer.generation.mean_logprob >= completion.FIRST_TOKEN_MIN_LOGPROB
    with monkeypatch.context() as m:
        m.setattr(completion, "FIRST_TOKEN_MIN_LOGPROB", 0.0)  # no answer is that sure: nothing is shown
        assert _complete(engine, source).text == ""


VOWELS = '''def count_vowels(text):
    """How many vowels the text has."""
<C>
    for ch in text.lower():
        if ch in "aeiou":
            n += 1
    return n
'''

MEAN_LENGTH = '''def mean_length(lines):
    """The mean length of the non-empty lines."""
    kept = [line for line in lines if line.strip()]
<C>    return total / len(kept)
'''


@pytest.mark.parametrize(("source", "name"), [(VOWELS, "n"), (MEAN_LENGTH, "total")], ids=["vowels", "mean_length"])
def test_an_answer_that_leaves_a_name_unbound_is_asked_for_again(engine, monkeypatch, source, name):
    # The code below reads a name nothing binds (`n += 1`, `return total / ...`): the new line
    # must bind it. The model's first answer does not; a line that starts by binding the name,
    # or one of the model's next first tokens, does, and the most likely such answer is shown.
    from codex_ls.names import name_checker

    text, offset = source.replace("<C>", ""), source.index("<C>")
    check = name_checker(Document("file:///t.py", text, 0, "python"), offset)
    assert list(check.needed) == [name]
    with monkeypatch.context() as m:
        m.setattr(completion, "name_checker", lambda doc, offset: None)
        first = _complete(engine, source)
    assert first.text.strip(), first.text
    answer = _complete(engine, source)
    if check(first.text):
        # The first answer already binds the name (on AVX2-only CPUs the greedy answer for VOWELS
        # is `    n = 0`; AVX-512 builds write a line that does not): nothing is asked again,
        # the first answer is shown as it is. MEAN_LENGTH's first answer leaves `total` unbound
        # on both, so the retry below is tested on every machine.
        assert source is not MEAN_LENGTH, first.text
        assert answer.text == first.text
        return
    assert answer.text.startswith(f"    {name} = ") and check(answer.text), answer.text
    assert answer.generation.mean_logprob is not None and answer.generation.mean_logprob >= completion.NAMES_MIN_LOGPROB
    with monkeypatch.context() as m:
        m.setattr(completion, "NAMES_MIN_LOGPROB", 0.0)  # no answer is that sure: the first one stays
        assert _complete(engine, source).text == first.text


NESTED = '''def is_nested_ok(text):
    """True when every "(" in text has a matching ")" after it."""
<C>        else:
            depth -= 1
        if depth < 0:
            return False
    return depth == 0
'''


def test_a_refused_first_line_grows_by_the_lines_the_model_wrote_after_it(engine, monkeypatch):
    """The rule ends ``depth = 0`` after its line (the code below is deeper); alone it breaks the
    file, and the model went on with the loop and the ``if`` the code below needs, not with
    ``else:``. The shortest longer answer that fits is shown (codex_ls.completion.longer_answer)."""
    grown = _complete(engine, NESTED)
    assert grown.text == "    depth = 0\n    for char in text:\n        if char == '(':\n            depth += 1\n"
    # Without it, that line is refused and no retry finds an answer.
    monkeypatch.setattr(completion, "longer_answer", lambda *args, **kwargs: None)
    assert _complete(engine, NESTED).text == ""
