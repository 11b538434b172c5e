"""Planning KV shifting: which runs of a new prompt are taken from elsewhere in the cache (pure)."""

from codex_ls.engines.kv_reuse import Segment, plan_kv_reuse

FS = -1  # a FIM marker


def _covers(plan, start, n):
    """The segments are consecutive and cover prompt[start:n]."""
    assert plan[0].start == start and plan[-1].end == n
    assert all(a.end == b.start for a, b in zip(plan, plan[1:]))


def test_nothing_in_common_is_evaluated_whole():
    plan = plan_kv_reuse(list(range(100)), list(range(1000, 1100)), 0, 16)
    assert plan == [Segment(0, 100)]


def test_the_common_prefix_alone_leaves_nothing_to_plan():
    tokens = list(range(50))
    assert plan_kv_reuse(tokens, tokens, 50, 16) == []


def test_cursor_moved_down_the_old_suffix_becomes_prefix_and_suffix():
    """Cached: prefix P, marker, suffix S (200 tokens). The cursor moved 60 tokens down: the new
    prompt is P + S[:60], marker, S[60:]: the planner finds two runs of S and leaves only the
    marker to evaluate. (The llama engine plans the prefix part only: see test_engine_llama.)"""
    p, s = list(range(100)), list(range(1000, 1200))
    cached = p + [FS] + s
    prompt = p + s[:60] + [FS] + s[60:]
    plan = plan_kv_reuse(cached, prompt, 100, 16)
    _covers(plan, 100, len(prompt))
    assert plan == [Segment(100, 160, 101), Segment(160, 161), Segment(161, 301, 161)]


def test_a_fresh_line_between_two_runs_is_evaluated():
    p, s = list(range(100)), list(range(1000, 1200))
    cached = p + [FS] + s
    new_line = [7000, 7001, 7002]
    prompt = p + s[:60] + new_line + [FS] + s[60:] + [9999]
    plan = plan_kv_reuse(cached, prompt, 100, 16)
    _covers(plan, 100, len(prompt))
    assert [seg for seg in plan if seg.cached_at is None] == [Segment(160, 164), Segment(304, 305)]


def test_runs_shorter_than_the_minimum_are_evaluated():
    cached = list(range(100)) + list(range(500, 520))
    prompt = list(range(100)) + [1] + list(range(500, 520))
    assert plan_kv_reuse(cached, prompt, 100, 32) == [Segment(100, 121)]
    assert plan_kv_reuse(cached, prompt, 100, 16) == [Segment(100, 101), Segment(101, 121, 100)]


def test_runs_are_taken_in_cache_order_and_never_twice():
    """A block that occurs twice in the prompt but once in the cache is shifted once; the
    second occurrence is evaluated."""
    block = list(range(300, 340))
    cached = [0] + block + [1]
    prompt = [0, 5] + block + [6] + block
    plan = plan_kv_reuse(cached, prompt, 1, 16)
    _covers(plan, 1, len(prompt))
    runs = [seg for seg in plan if seg.cached_at is not None]
    assert runs == [Segment(2, 42, 1)]


def test_the_longest_run_wins():
    a, b = list(range(300, 320)), list(range(400, 440))
    cached = [0] + a + [1] + a + b
    prompt = [0, 9] + a + b
    plan = plan_kv_reuse(cached, prompt, 1, 16)
    assert Segment(2, 62, 22) in plan  # the copy of `a` followed by `b`, not the first `a`

