"""The worker pool: one process per core, each loading the chain once and rendering many files.

Plug-ins cannot be pickled, so a worker is handed a recipe (a picklable
callable that builds the session) and builds its own chain from it. The parent
only schedules: it hands each idle worker one file at a time, and watches the
worker's pipe and its process together. A worker that dies (a plug-in's
SIGSEGV or SIGABRT) or does not answer in time (a plug-in that hangs) costs
only the file it held: that file is marked failed with the reason, the worker
is replaced, and the batch goes on.

Workers are started with ``spawn``, not ``fork``: a forked copy of a process
that has loaded plug-ins (and their threads) is not safe to run them in.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import pickle
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

import soundfile as sf

from rackhost.chain.batch.jobs import BatchError, FileRecord, Job, remove_partial
from rackhost.errors import RackhostError

CANCEL_POLL_SECONDS = 0.1


class Cancel(Protocol):
    """What stops a batch part-way (a ``threading.Event``): set from any thread."""

    def is_set(self) -> bool: ...


SessionBuilder = Callable[[], object]  # -> rackhost.chain.Session with one track; picklable (a recipe, not plug-ins)

# Without --timeout, a file may take this long, plus this much per second of audio (a loudness target's
# few passes through a slow chain included), before its worker is taken for hung.
TIMEOUT_BASE_SECONDS = 120.0
TIMEOUT_PER_AUDIO_SECOND = 4.0
BUILD_TIMEOUT_SECONDS = 600.0  # loading the chain (ZamVerb alone takes ~90 s)


@dataclass(frozen=True)
class RenderOptions:
    """How each file is rendered: the options of ``rackhost render``."""

    bit_depth: int = 24
    tail: bool = True
    max_tail_seconds: float = 30.0
    sample_rate: int | None = None  # None: each file's own rate
    measure_only: bool = False  # an album's first pass: find each file's gain to the target, write nothing
    # Files longer than this are streamed (rackhost.chain.batch.stream): read, rendered and written a segment at
    # a time, in bounded memory, to the same samples; shorter ones are read whole (a little faster).
    stream_above_seconds: float = 600.0


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    job: int | None = None  # index of the file it holds
    deadline: float = math.inf
    handed: float = 0.0


class Pool:
    """Runs ``jobs`` on ``workers`` processes; ``on_record(index, record)`` hears each file as it ends."""

    def __init__(self, build: SessionBuilder, options: RenderOptions, workers: int, timeout: float | None = None):
        self.build = build
        self.options = options
        self.workers = max(1, workers)
        self.timeout = timeout
        self._context = multiprocessing.get_context("spawn")

    def run(self, jobs: list[tuple[int, Job]], on_record: Callable[[int, FileRecord], None],
            cancel: Cancel | None = None) -> None:
        """``cancel``: once set, files not yet ended are left (no record, no partial output) and the workers stop."""
        pending = deque(jobs)
        by_index = dict(jobs)
        crew: list[_Worker] = []
        try:
            while pending or any(w.job is not None for w in crew):
                if cancel is not None and cancel.is_set():
                    break
                while len(crew) < min(self.workers, len(pending) + sum(w.job is not None for w in crew)):
                    crew.append(self._start())
                for worker in crew:
                    if worker.ready and worker.job is None and pending:
                        index, job = pending.popleft()
                        worker.job, worker.handed = index, time.monotonic()
                        worker.deadline = worker.handed + (self.timeout or TIMEOUT_BASE_SECONDS)
                        worker.conn.send((index, job))
                now = time.monotonic()
                wake = min((w.deadline for w in crew), default=math.inf)
                if cancel is not None:  # look at the cancel now and then, not only when a worker speaks
                    wake = min(wake, now + CANCEL_POLL_SECONDS)
                ready = wait([w.conn for w in crew] + [w.process.sentinel for w in crew],
                             timeout=None if wake == math.inf else max(0.0, wake - now))
                for worker in list(crew):
                    gone = self._serve(worker, ready, by_index, on_record)
                    if gone:
                        crew.remove(worker)
        finally:
            for worker in crew:
                held = worker.job
                self._stop(worker)
                if held is not None:  # cancelled mid-file: what it was writing goes (the output is atomic)
                    remove_partial(by_index[held].output)

    # -- one worker -----------------------------------------------------------------

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(child, self.build, self.options),
                                        name="rackhost-batch", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent, deadline=time.monotonic() + BUILD_TIMEOUT_SECONDS)

    def _serve(self, worker: _Worker, ready: list, by_index: dict[int, Job],
               on_record: Callable[[int, FileRecord], None]) -> bool:
        """Read what ``worker`` said, or bury it; True when it is gone (its file, if any, marked failed)."""
        if worker.conn in ready:
            try:
                while worker.conn.poll():
                    message = worker.conn.recv()
                    self._heard(worker, message, on_record)
            except (EOFError, OSError, pickle.UnpicklingError):
                pass  # it died, perhaps mid-message; the sentinel says how
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join(5)
            if worker.job is None and not worker.ready:
                raise BatchError(f"a batch worker {_death(worker.process.exitcode)} while loading the chain, "
                                 f"so no file can be rendered; check the chain with 'rackhost render' on one file")
            if worker.job is not None:
                job = by_index[worker.job]
                remove_partial(job.output)
                on_record(worker.job, FileRecord(
                    str(job.input), str(job.output), "failed",
                    f"the worker {_death(worker.process.exitcode)} while rendering it (a plug-in in the chain "
                    f"crashed on this file)"))
            worker.conn.close()
            return True
        if time.monotonic() >= worker.deadline:
            self._stop(worker)
            if worker.job is None:
                raise BatchError(f"a batch worker did not finish loading the chain within "
                                 f"{BUILD_TIMEOUT_SECONDS:g} s; a plug-in in it may hang while loading")
            job = by_index[worker.job]
            remove_partial(job.output)
            waited = worker.deadline - worker.handed
            on_record(worker.job, FileRecord(
                str(job.input), str(job.output), "failed",
                f"timeout: no result within {waited:.0f} s, so its worker was stopped (a plug-in in the chain "
                f"may hang on this file); raise --timeout if it is only slow", seconds=waited))
            return True
        return False

    def _heard(self, worker: _Worker, message: tuple, on_record: Callable[[int, FileRecord], None]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready, worker.deadline = True, math.inf
        elif kind == "build_error":
            raise BatchError(message[1])
        elif kind == "started" and self.timeout is None:  # the file's length is known: its own time limit
            worker.deadline = worker.handed + TIMEOUT_BASE_SECONDS + TIMEOUT_PER_AUDIO_SECOND * message[2]
        elif kind == "done":
            index, record = message[1], message[2]
            worker.job, worker.deadline = None, math.inf
            on_record(index, record)

    def _stop(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            if worker.job is None and worker.ready:
                try:
                    worker.conn.send(None)  # finish quietly
                    worker.process.join(2)
                except OSError:
                    pass
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(5)
        worker.conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"crashed with {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


# -- the worker process -------------------------------------------------------------------


def worker_main(conn: Connection, build: SessionBuilder, options: RenderOptions) -> None:
    """Build the session once, then render each file the parent hands in until it says stop (or is gone)."""
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the parent stops the batch (and its workers), so a worker
    # must not take it for a failure of the file it holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet_stderr()  # plug-ins chatter on fd 2; what a file's render has to say goes back in its record
    try:
        session = build()
        track = input_track(session)
        warm_up()
    except RackhostError as err:
        conn.send(("build_error", str(err)))
        return
    except Exception as err:  # noqa: BLE001 - the parent must hear why, whatever it was
        conn.send(("build_error", f"the chain could not be built: {type(err).__name__}: {err}"))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            # Told to stop, with every file's record sent: nothing is left to save, so the process ends here
            # rather than tearing its plug-ins and modules down one by one (a quarter of a second of CPU).
            os._exit(0)
        index, job = message
        conn.send(("done", index, render_one(session, job, options, lambda s, i=index: conn.send(("started", i, s)),
                                             track)))


def warm_up() -> None:
    """Import now what rendering a file imports on first use (scipy's signal module alone takes a second or more),
    so the first file's seconds in the record are its own, as every other file's are."""
    import pyloudnorm  # noqa: F401 - and scipy.signal, which it imports

    import rackhost.chain.batch.stream
    import rackhost.chain.render  # noqa: F401


def input_track(session: object) -> object:
    """The track each file plays on: a bounce's one track, or a session's one audio-file track."""
    tracks = session.tracks  # type: ignore[attr-defined]
    if session.track_bounce:  # type: ignore[attr-defined]
        return tracks[0]
    files = [t for t in tracks if t.source is not None]
    if len(files) != 1:
        names = ", ".join(repr(t.name) for t in files) or "none"
        raise BatchError(f"a batch plays each input on the session's one audio-file track, and this session has "
                         f"{len(files)} ({names}); keep one audio-file track (instruments and inputs may stay)")
    return files[0]


def render_one(session: object, job: Job, options: RenderOptions,
               started: Callable[[float], None] = lambda seconds: None, track: object | None = None) -> FileRecord:
    """Render ``job.input`` on ``track`` (:func:`input_track`) of ``session`` to ``job.output``; a failure is a
    record, never a raise. A bounce renders at the file's rate, a session at its own."""
    from rackhost.chain.batch.stream import (
        MeteredSource,
        StreamedFileSource,
        stream_to_file,
    )
    from rackhost.chain.render import render, render_to_file
    from rackhost.chain.source import AudioFileSource

    began = time.perf_counter()
    track = track if track is not None else input_track(session)
    bounce = session.track_bounce  # type: ignore[attr-defined]
    render_options = {"tail": options.tail, "max_tail_seconds": options.max_tail_seconds, "threads": 1}
    stream_options = {"tail": options.tail, "max_tail_seconds": options.max_tail_seconds}
    restore: Callable[[], None] | None = None
    source: object | None = None
    try:
        streamed = _streams(job.input, options, None if bounce else session.sample_rate)  # type: ignore[attr-defined]
        source = StreamedFileSource(job.input) if streamed else AudioFileSource(job.input)
        started(source.frames / source.sample_rate)
        # The input's loudness and true peak ("before") are measured as the render reads it, not in a pass of
        # their own: that pass cost a tenth of the render.
        metered = MeteredSource(source)
        track.source = metered
        if options.sample_rate or bounce:
            session.sample_rate = options.sample_rate or int(source.sample_rate)  # type: ignore[attr-defined]
        if job.loudness_target is not None:
            restore = _own_target(session, job.loudness_target)
        if job.gain_db is not None:
            _fix_gain(session, job.gain_db, job.ceiling_db)
        if options.measure_only:
            if session.master.loudness_target is None:  # type: ignore[attr-defined]
                raise BatchError("an album needs a loudness target: give --loudness-target LUFS, or a mastering "
                                 "preset that has one")
            if streamed:  # the signal before the limiter goes to a scratch file beside the output
                job.output.parent.mkdir(parents=True, exist_ok=True)
                result = stream_to_file(session, job.output, write=False, **stream_options)  # type: ignore[assignment]
            else:
                result = render(session, **render_options)  # type: ignore[arg-type]
        else:
            job.output.parent.mkdir(parents=True, exist_ok=True)
            if streamed:
                result = stream_to_file(session, job.output, bit_depth=options.bit_depth, **stream_options)  # type: ignore[assignment]
            else:
                result = render_to_file(session, job.output, bit_depth=options.bit_depth, **render_options)  # type: ignore[arg-type]
        before = metered.loudness()
        # A target render measured its last pass to check it: that is the output, so it is not measured again.
        after = result.target_report.achieved if result.target_report is not None else result.loudness()
    except RackhostError as err:
        return FileRecord(str(job.input), str(job.output), "failed", str(err), time.perf_counter() - began)
    except Exception as err:  # noqa: BLE001 - one file's failure must not stop the batch
        return FileRecord(str(job.input), str(job.output), "failed", f"{type(err).__name__}: {err}",
                          time.perf_counter() - began)
    finally:
        if isinstance(source, StreamedFileSource):
            source.close()
        track.source = None  # the next file must not find this one's audio
        if restore is not None:
            restore()
    notes = list(result.notes)
    if result.clipped_samples:
        notes.append(f"{result.clipped_samples} samples were above 0 dBFS and clipped")
    target = result.target_report
    missed = None
    if target is not None and not target.within and not options.measure_only:
        missed = target.reason or "see the loudness after"
        notes.append(f"missed the loudness target: {missed}")
    record = FileRecord(str(job.input), str(job.output), "done", None, time.perf_counter() - began, result.seconds,
                        _levels(before), _levels(after), notes, target_missed=missed)
    if target is not None:
        record.gain_db, record.ceiling_db = target.gain_db, target.ceiling_db
    elif job.gain_db is not None:
        record.gain_db, record.ceiling_db = job.gain_db, job.ceiling_db
    return record


def _streams(path: Path, options: RenderOptions, session_rate: int | None) -> bool:
    """Whether ``path`` is long enough to stream, and plays at its own rate (a resampled file is read whole)."""
    try:
        info = sf.info(str(path))
    except (OSError, RuntimeError, sf.LibsndfileError):
        return False  # reading it whole says what is wrong with it
    if not info.samplerate or info.frames / info.samplerate <= options.stream_above_seconds:
        return False
    rate = options.sample_rate or session_rate or info.samplerate
    return rate == info.samplerate


def _own_target(session: object, target: tuple[float, float]) -> Callable[[], None]:
    """Give the master this file's loudness target (a limiter added if it ends in none); returns the undo."""
    from rackhost.chain.master import LoudnessTarget
    from rackhost.chain.plugin import Plugin
    from rackhost.chain.target import LoudnessTargetError, final_limiter

    master = session.master  # type: ignore[attr-defined]
    before, master.loudness_target = master.loudness_target, LoudnessTarget(*target)
    added = None
    try:
        final_limiter(master.chain)
    except LoudnessTargetError:
        added = master.chain.add(Plugin.builtin("BrickwallLimiter", true_peak=True))

    def restore() -> None:
        master.loudness_target = before
        if added is not None:
            master.chain.remove(added)

    return restore


def _fix_gain(session: object, gain_db: float, ceiling_db: float | None) -> None:
    """Set the gain before the master's final limiter (a Gain slot, added once) and its ceiling; no target search."""
    from rackhost.chain.plugin import Plugin
    from rackhost.chain.target import GAIN_SLOT_NAME, final_limiter, gain_slot_before

    master = session.master  # type: ignore[attr-defined]
    target, master.loudness_target = master.loudness_target, None
    limiter, ceiling_param = final_limiter(master.chain)
    gain = gain_slot_before(master.chain, limiter)
    if gain is None:
        gain = master.chain.add(Plugin.builtin(GAIN_SLOT_NAME), limiter)
        limiter += 1
    gain.plugin.set("gain_db", gain_db)
    ceiling = ceiling_db if ceiling_db is not None else (target.true_peak_dbtp if target else None)
    if ceiling is not None:
        master.chain[limiter].plugin.set(ceiling_param, ceiling)


def _levels(report: object) -> dict:
    doc = report.to_dict()  # type: ignore[attr-defined]
    return {"integrated_lufs": doc["integrated_lufs"], "true_peak_dbtp": doc["true_peak_dbtp"]}


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the batch does, rather than rendering on for nobody."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent was gone before the wish was made
            os._exit(1)


def _quiet_stderr() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass
