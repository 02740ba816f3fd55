"""Sharing a block's tracks between two threads: every track rendered exactly once, whoever takes it."""

from __future__ import annotations

import threading
import time

from rackhost.chain.live.spread import Share, TrackWorker


def test_every_track_is_rendered_once_when_the_worker_and_the_caller_share_a_block():
    worker = TrackWorker()
    worker.start()
    try:
        for _ in range(200):
            seen: list[tuple[int, str]] = []

            def render(k: int) -> None:
                time.sleep(0.0001)  # releases the GIL, as a plug-in does
                seen.append((k, threading.current_thread().name))

            share = Share(16, render)
            worker.hand(share)
            share.wait_for_worker(16, share.work())
            assert sorted(k for k, _ in seen) == list(range(16))
        assert worker.rendered > 0  # it really took part
    finally:
        worker.stop()
    assert not worker.is_alive()


def test_the_caller_renders_everything_when_the_worker_never_wakes():
    seen: list[int] = []
    share = Share(8, seen.append)  # handed to no worker
    own = share.work()
    share.wait_for_worker(8, own)  # returns at once: the worker took nothing
    assert own == 8 and seen == list(range(8))


def test_a_track_that_raises_in_the_worker_is_reported_and_the_caller_does_not_wait_forever():
    worker = TrackWorker()
    worker.start()
    try:
        def render(k: int) -> None:
            time.sleep(0.0005)
            if threading.current_thread() is worker:
                raise RuntimeError(f"track {k} broke")

        for _ in range(50):
            share = Share(8, render)
            worker.hand(share)
            share.wait_for_worker(8, share.work())
            if worker.fault:
                break
        assert worker.fault is not None and "broke" in worker.fault
    finally:
        worker.stop()
