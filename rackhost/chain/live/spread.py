"""A second audio thread that renders tracks alongside the callback (work sharing across two cores).

pedalboard releases the GIL while a plug-in processes, so two threads can run
two tracks' chains at once. Each block the callback hands the block's tracks
to :class:`TrackWorker` as a :class:`Share` and wakes it with one byte on a
pipe; both threads then take track numbers from one shared iterator (taking
the next item of an iterator is atomic under the GIL) until none are left.
A track is rendered whole by one thread, into its own row, and the rows are
summed in track order afterwards: the output is the same bits whichever thread
rendered which track, and the same as an offline render.

The callback never waits for the worker to *start*: if the worker is late
(not woken yet, or no core free), the callback simply takes every track
itself. It waits only for the tracks the worker has already taken, at most
one chain's worth of work, and it releases the GIL while it does.

The worker must run at the audio thread's real-time priority: an ordinary
thread preempted while it holds the GIL would stall the callback. Where that
is not allowed, the engine does not spread (see :func:`start_worker`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from rackhost.chain.live import priority

SPREAD_MIN_TRACKS = 8  # below this, waking a second thread costs more than it saves


class Share:
    """One block's tracks, shared between the callback and the worker."""

    __slots__ = ("claim", "render", "worker_done")

    def __init__(self, count: int, render: Callable[[int], None]):
        self.claim = iter(range(count))  # next(claim) hands out each track number once, to one thread
        self.render = render  # render(k): track k into its row (catches the chain's errors itself)
        self.worker_done = 0  # tracks the worker has finished (written by the worker only)

    def work(self) -> int:
        """Render tracks until none are left to take; returns how many this thread rendered."""
        done = 0
        render = self.render
        for k in self.claim:
            render(k)
            done += 1
        return done

    def wait_for_worker(self, count: int, own: int) -> None:
        """Return once the worker has finished the tracks it took (``count - own``), releasing the GIL meanwhile."""
        taken = count - own
        while self.worker_done < taken:
            time.sleep(0)  # lets the worker have the GIL when its plug-ins return


class TrackWorker(threading.Thread):
    """The second audio thread: sleeps on a pipe, wakes for a block's :class:`Share`."""

    def __init__(self) -> None:
        super().__init__(name="rackhost-track-worker", daemon=True)
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self.share: Share | None = None
        self.fault: str | None = None
        self.rendered = 0  # tracks this thread has rendered since it started (written by it alone)
        self._stopping = False

    def hand(self, share: Share) -> None:
        """From the callback: publish this block's share and wake the worker (a non-blocking write)."""
        self.share = share
        try:
            os.write(self._write, b"1")
        except OSError:  # the pipe is full: the worker is awake anyway
            pass

    def run(self) -> None:
        while True:
            try:
                os.read(self._read, 64)  # blocks without the GIL; takes any wake-ups that piled up
            except InterruptedError:
                continue
            if self._stopping:
                return
            share = self.share
            if share is None:
                continue
            for k in share.claim:
                try:
                    share.render(k)
                except Exception as err:  # noqa: BLE001 - the callback waits on worker_done: never skip it
                    if self.fault is None:
                        self.fault = f"{type(err).__name__}: {err}"
                finally:
                    share.worker_done += 1
                    self.rendered += 1

    def stop(self) -> None:
        self._stopping = True
        try:
            os.write(self._write, b"q")
        except OSError:
            pass
        self.join(2.0)
        os.close(self._read)
        os.close(self._write)


def start_worker(audio_thread_id: int) -> tuple[TrackWorker | None, str]:
    """A running worker at the audio thread's real-time priority, or None (and why) where that cannot be."""
    if (os.cpu_count() or 1) < 2:
        return None, "one core: tracks run on the audio thread alone"
    level = priority.realtime_priority(audio_thread_id) if audio_thread_id else 0
    if not level:
        return None, "the audio thread is not real-time: tracks run on it alone"
    worker = TrackWorker()
    worker.start()
    if not priority.make_realtime(worker.native_id or 0, level):
        worker.stop()
        return None, "real-time scheduling not allowed for a second audio thread: tracks run on the audio thread alone"
    return worker, f"tracks shared with a second audio thread (SCHED_FIFO {level})"
