"""Sharing a block's tracks between two threads: every track rendered exactly once, whoever takes it."""

from __future__ import annotations

import threading
import time

import pytest

from rackhost.live.spread import Share, TrackWorker


@pytest.fixture
def worker():
    worker = TrackWorker()
    worker.start()
    yield worker
    worker.stop()
    assert not worker.is_alive()


def run_block(share: Share, worker: TrackWorker) -> int:
    share.open()
    worker.hand(share)
    return share.work()


def test_every_track_is_rendered_once_when_the_worker_and_the_caller_share_a_block(worker):
    seen: list[tuple[int, str]] = []

    def render(k: int) -> None:
        time.sleep(0.0001)  # releases the GIL, as a plug-in does
        seen.append((k, threading.current_thread().name))

    share = Share(16, render)  # one share, reused block after block, as the engine does
    for _ in range(200):
        seen.clear()
        run_block(share, worker)
        assert sorted(k for k, _ in seen) == list(range(16))
    assert worker.rendered > 0  # it really took part


def test_the_caller_renders_everything_when_the_worker_never_wakes():
    seen: list[int] = []
    share = Share(8, seen.append)  # handed to no worker
    share.open()
    assert share.work() == 8  # returns at once: the worker took nothing
    assert seen == list(range(8))


def test_a_track_that_raises_in_the_worker_is_reported_and_the_caller_does_not_wait_forever(worker):
    def render(k: int) -> None:
        time.sleep(0.0005)
        if threading.current_thread() is worker:
            raise RuntimeError(f"track {k} broke")

    share = Share(8, render)
    for _ in range(50):
        run_block(share, worker)
        if worker.fault:
            break
    assert worker.fault is not None and "broke" in worker.fault


def test_an_error_on_the_callers_side_waits_for_the_track_the_worker_is_still_rendering(worker):
    # The worker holds track 0 for 20 ms (GIL released); the caller fails at once on
    # track 1. The caller must not leave the block (whose rows the next block reuses)
    # while the worker is still writing into it.
    worker_took = threading.Event()
    finished: list[int] = []

    def render(k: int) -> None:
        if threading.current_thread() is worker:
            worker_took.set()
            time.sleep(0.02)
            finished.append(k)
            return
        worker_took.wait(1.0)
        raise ValueError("a bug in a feed")

    share = Share(8, render)
    share.open()
    worker.hand(share)
    with pytest.raises(ValueError, match="a bug in a feed"):
        share.work()
    assert finished, "the caller left the block while the worker was still on its track"
    assert share.worker_done == len(finished)
    # The tracks nobody had taken were taken by the caller (and not rendered): the next block starts clean.
    assert next(share.claim, None) is None
    seen: list[int] = []
    share.render = seen.append
    run_block(share, worker)
    assert sorted(seen) == list(range(8))
