"""A second audio thread that renders tracks alongside the callback (work sharing across two cores).

pedalboard releases the GIL while a plug-in processes, so two threads can run
two tracks' chains at once. Each block the callback opens the audio state's
:class:`Share` and wakes :class:`TrackWorker` with one byte on a pipe; both
threads then take track numbers from one shared iterator (taking the next
item of an iterator is atomic under the GIL) until none are left.
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
from typing import Callable, Iterator

from rackhost.live import priority

SPREAD_MIN_TRACKS = 8  # below this, waking a second thread costs more than it saves


class Share:
    """A state's tracks, shared block after block between the callback and the worker.

    Made once per audio state (off the audio thread), so the callback allocates
    nothing for it but each block's ``claim`` iterator. Per block the callback
    calls :meth:`open`, wakes the worker, then :meth:`work`.
    """

    __slots__ = ("count", "numbers", "render", "claim", "worker_done", "waiting", "wake")

    def __init__(self, count: int, render: Callable[[int], None], numbers: tuple[int, ...] | None = None):
        """``numbers``: the tracks shared (by default 0 .. count - 1); keyed tracks are left out and rendered
        by the callback after the shared ones, in their order (:meth:`MixSnapshot.render_order`)."""
        self.numbers = tuple(range(count)) if numbers is None else numbers
        self.count = len(self.numbers)
        self.render = render  # render(k): track k into its row (catches the chain's errors itself)
        self.claim: Iterator[int] = iter(())  # next(claim) hands out each track number once, to one thread
        self.worker_done = 0  # tracks of this block the worker has finished (written by the worker, reset by open)
        self.waiting = False  # the caller sleeps until the worker's tracks are done: wake it after each
        self.wake = -1  # the pipe the caller sleeps on (the worker's, set by TrackWorker.hand)

    def open(self) -> None:
        """Start a block: from here on either thread may take tracks.

        The count is reset before the new claim is published: a worker that wakes
        late, still holding an old (exhausted) claim, takes nothing, and one that
        sees the new claim counts into the new block.
        """
        self.worker_done = 0
        self.claim = iter(self.numbers)

    def work(self) -> int:
        """Render tracks until none are left, then wait for the worker's; returns how many this thread took.

        Whatever happens here, the callback does not leave the block while the
        worker is still writing into it: if a track raises something the render
        does not catch, the tracks nobody has taken yet are taken (and left
        unrendered, the block is lost anyway) and the worker's are waited for
        before the error goes on.
        """
        own = 0
        claim = self.claim
        render = self.render
        try:
            for k in claim:
                own += 1
                render(k)
        finally:
            for _ in claim:
                own += 1
            taken = self.count - own
            if self.worker_done < taken:
                # Sleep on a pipe rather than spin: a spinning caller keeps re-taking the GIL that the
                # worker needs to finish its track, and holds a core at real-time priority meanwhile.
                self.waiting = True  # set before the check below, so the worker's next track wakes us
                while self.worker_done < taken:
                    os.read(self.wake, 64)  # without the GIL; a byte left over from a race only re-checks
                self.waiting = False
        return own


class TrackWorker(threading.Thread):
    """The second audio thread: sleeps on a pipe, wakes for a block's :class:`Share`."""

    def __init__(self) -> None:
        super().__init__(name="rackhost-track-worker", daemon=True)
        self._read, self._write = os.pipe()  # the callback wakes the worker
        os.set_blocking(self._write, False)
        self._done_read, self._done_write = os.pipe()  # the worker wakes a callback waiting for its tracks
        os.set_blocking(self._done_write, False)
        self.share: Share | None = None
        self.fault: str | None = None
        self.rendered = 0  # tracks this thread has rendered since it started (written by it alone)
        self._stopping = False

    def hand(self, share: Share) -> None:
        """From the callback, after ``share.open()``: wake the worker for this block (a non-blocking write)."""
        share.wake = self._done_read
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
            for k in share.claim:  # an old block's claim is exhausted: nothing is taken from it
                try:
                    share.render(k)
                except Exception as err:  # noqa: BLE001 - the callback waits on worker_done: never skip it
                    if self.fault is None:
                        self.fault = f"{type(err).__name__}: {err}"
                finally:
                    self.rendered += 1
                    share.worker_done += 1  # the callback may leave the block as soon as it sees the count
                    if share.waiting:
                        try:
                            os.write(self._done_write, b"1")
                        except OSError:  # the pipe is full: the callback is awake anyway
                            pass

    def stop(self) -> None:
        self._stopping = True
        try:
            os.write(self._write, b"q")
        except OSError:
            pass
        self.join(2.0)
        for fd in (self._read, self._write, self._done_read, self._done_write):
            os.close(fd)


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
