"""The in-flight job registry (pure parts, no model): when a newer request may take over a
running generation, and when a generation nobody waits for is stopped."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

from codex_ls.engines.base import CancelToken
from codex_ls.inflight import ADOPT_MAX_CHARS, InFlight, Job, typed_through


def running_job(before: str = 'log.Printf(', after: str = "\n}\n") -> Job:
    job = Job("file:///a.go", before, after, CancelToken())
    job.future = Future()  # not done: the generation is running
    return job


def test_typed_through_means_one_is_a_prefix_of_the_other():
    assert typed_through('"error: %v", err)', '"err')
    assert typed_through('"e', '"error')  # the generation has not got that far yet
    assert typed_through("", "x")
    assert not typed_through('"error', '"warn')
    assert not typed_through("abc", "abd")


def test_what_was_typed_at_the_jobs_cursor():
    job = running_job()
    assert job.typed('log.Printf("er', "\n}\n") == '"er'
    assert job.typed('log.Printf(', "\n}\n") == ""
    assert job.typed('log.Printf("er', "\n}\nmore") is None  # the text after the cursor changed
    assert job.typed('log.Print', "\n}\n") is None  # deleted before the cursor
    assert job.typed('log.Printf(x,\n', "\n}\n") is None  # a new line
    assert job.typed('log.Printf(' + "a" * (ADOPT_MAX_CHARS + 1), "\n}\n") is None


def test_a_request_takes_over_only_what_writes_what_was_typed():
    flight = InFlight()
    job = running_job()
    flight.start(job)
    job.report('"error sending')
    assert flight.adoptable(job.uri, 'log.Printf("err', "\n}\n") == (job, '"err')
    assert job.expect == '"err'
    assert flight.adoptable(job.uri, 'log.Printf("warn', "\n}\n") is None
    assert flight.adoptable(job.uri, 'log.Printf(', "\n}\n") is None  # nothing typed: a request again supersedes
    assert flight.adoptable("file:///b.go", 'log.Printf("err', "\n}\n") is None
    job.token.cancel()
    assert flight.adoptable(job.uri, 'log.Printf("err', "\n}\n") is None
    flight.finish(job)
    assert flight.get(job.uri) is None


def test_a_generation_that_stops_writing_what_was_typed_is_stopped():
    job = running_job()
    job.expect = '"err'
    job.report('"er')
    assert not job.token.cancelled  # not there yet
    job.report('"error')
    assert not job.token.cancelled
    other = running_job()
    other.expect = '"err'
    other.report('"warn')
    assert other.token.cancelled


def test_a_generation_nobody_waits_for_stops_after_the_grace_unless_taken_over():
    async def scenario() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        flight = InFlight()
        left, taken = running_job(), running_job()
        for job in (left, taken):
            flight.wait(job)
            flight.leave(job, loop, grace_s=0.02)  # its request was cancelled
        flight.wait(taken)  # a newer request takes it over within the grace
        await asyncio.sleep(0.06)
        return left.token.cancelled, taken.token.cancelled

    left_stopped, taken_stopped = asyncio.run(scenario())
    assert left_stopped and not taken_stopped


def test_a_newer_job_stops_the_older_and_stop_stops_the_running_one():
    flight = InFlight()
    older, newer = running_job(), running_job()
    flight.start(older)
    flight.start(newer)
    assert older.token.cancelled and not newer.token.cancelled and flight.get(newer.uri) is newer
    flight.finish(older)  # the older run ends late: the newer stays the running one
    assert flight.get(newer.uri) is newer
    flight.stop(newer.uri)
    assert newer.token.cancelled and flight.get(newer.uri) is None
