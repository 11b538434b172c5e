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
