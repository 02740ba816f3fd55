"""The live engine in a process of its own, commanded by the GUI (or any parent).

Why a process: measured on this machine kind, pure-Python work in another
thread of the same interpreter (a GUI's callbacks, widget updates, parsing a
file) makes an audio callback miss hundreds of deadlines a minute, because
they share one GIL. In its own process the engine has its own GIL, and a
plug-in that crashes takes down only the engine: the parent keeps the window
and the session, reports the death, and can start a new engine with one call.

Parent and child talk through a pipe (commands down, events up) and a block of
shared memory the child rewrites about 15 times a second with the meters and
the engine's stats; the parent reads it whenever it likes, without locks (a
meter read mid-update is at worst one frame old).

In the child, everything but the audio callback stays out of its way: the
control thread sleeps between commands and publications, starts its work
right after a block ends, holds the GIL only for short numpy calls, and runs
at the lowest real-time priority (see :mod:`rackhost.live.priority`) so
no other process preempts it while it holds the GIL. Automatic garbage
collection is off (it would start in whichever thread allocates, the callback
too): the objects made while loading are frozen, and the control thread
collects the young ones after each publication.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing as mp
import signal
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any, Callable

import numpy as np

from rackhost.chain.automation import MIX, STRIP_CONTROLS, SendTarget, SlotTarget, StripTarget
from rackhost.errors import RackhostError
from rackhost.live import commands as c
from rackhost.live import priority
from rackhost.live.memory import TRIM_SECONDS, trim_heap
from rackhost.live.commands import (NOTHING, REBUILD, REMIX, Command, Needs, chain_of, item_of, owner,
                                    plugin_slot_of, slot_of)
from rackhost.live.match_tap import (DEFAULT_SECONDS, MatchTap, Played, matched_from_played, played_offsets, tap_bytes,
                                     tap_frames)
from rackhost.live.midi_input import MidiSetup
from rackhost.live.partner import PartnerLink
from rackhost.live.recorder import TakeReport
from rackhost.live.spectrum_tap import TAP_FRAMES, SlotReduction

MAX_STRIPS = 256
PUBLISH_SECONDS = 1 / 15  # meters and stats: plenty for a GUI, and little GIL time taken from the callback
# The master's loudness: lufs_m (momentary, 400 ms), lufs_s (short-term, 3 s), lufs_i (integrated since the
# transport last started from stop), true_peak_db (dBTP, last 400 ms), true_peak_max_db (since that start);
# -inf until there is enough signal. audio_rtprio: the audio thread's real-time priority (0: none).
STAT_FIELDS = ("alive", "running", "position", "playing", "recording", "xruns", "callbacks",
               "load_p50", "load_p99", "load_max", "latency_frames", "dropped_frames", "strips",
               "lufs_m", "lufs_s", "lufs_i", "true_peak_db", "true_peak_max_db", "audio_rtprio", "busses",
               "sample_rate", "partner_late", "own_p50", "tracks_p50",
               "partner_wake_p50", "partner_render_p50")
_METER_FIELDS = 4  # peak, rms, peak hold, clip (LiveEngine.meters)
_METER_FLOATS = (MAX_STRIPS + 1) * 2 * _METER_FIELDS
_STAT_FLOATS = len(STAT_FIELDS)
# The spectrum tap: [frames written (0: no tap), watched strip: track + 1, 0 the master, -1 - bus, stages], pre, post, then per
# stage of the watched chain [first slot, last slot, gain reduction dB, 1 if the plug-in reported it].
_SPECTRUM_HEAD = 3
MAX_STAGES = 64
_STAGE_FIELDS = 4
_SPECTRUM_FLOATS = _SPECTRUM_HEAD + 2 * TAP_FRAMES + MAX_STAGES * _STAGE_FIELDS
_SHM_FLOATS = _METER_FLOATS + _STAT_FLOATS + _SPECTRUM_FLOATS


class EngineProcessError(RackhostError):
    pass


@dataclass(frozen=True)
class SessionLoader:
    """How the child builds the session: ``load(source)``, and ``resync(session, document)`` for updates.

    ``rackhost.live`` may not import ``rackhost.presets`` (which reads session
    files), so the parent hands the functions in. They must be module-level
    functions: the child is spawned, and pickle sends a function by its name.
    ``source`` is a session file's path or a session document (a GUI's unsaved
    session, say).
    """

    source: str | dict
    load: Callable[[Any], Any]
    resync: Callable[[Any, dict], tuple[Any, list]] | None = None  # -> (session, parameter changes)

    def session(self) -> Any:
        return self.load(self.source)

    def resynced(self, session: Any, document: dict) -> tuple[Any, list]:
        if self.resync is None:
            raise EngineProcessError("this engine was started without a way to take session updates: restart it")
        return self.resync(session, document)


class EngineProcess:
    """Start, command and watch a :class:`~rackhost.live.LiveEngine` running in a child process."""

    def __init__(self, loader: SessionLoader, *, device: Any = None, block_size: int | None = None,
                 midi: MidiSetup | None = None, spread: bool = True, input_channels: int | None = None,
                 partner: bool = True):
        self.loader = loader
        # Half the file tracks render in a partner process on the other core (see partner.py) where the session
        # has enough of them, instead of on a second audio thread; False: threads only.
        self.partner = partner and spread
        self.input_channels = input_channels  # 0: an output-only stream; None: what the tracks take
        self.spread = spread  # share tracks with a second audio thread where allowed (see spread.py)
        self.device = device
        self.block_size = block_size
        self.midi = midi  # MIDI inputs and the program-change loader; None: no MIDI
        self.learned_mappings: list[dict] = []  # CCMapping.to_dict() of each mapping MIDI learn made, oldest first
        # (MappingTarget.to_dict(), value) of each mapped target a controller moved, for a GUI to follow
        self.moved_targets: list[tuple[dict, object]] = []
        self.recalled_presets: list[tuple[int | None, str]] = []  # (track, preset) a program change recalled
        self.takes: list[TakeReport] = []  # each take the engine finished recording, oldest first
        # Touch and latch passes the engine wrote (WrittenPass), oldest first: the parent commits each to its
        # session as one undo step (rackhost.live.writer.commit_written)
        self.written_passes: list = []
        # The passes the engine is writing now (rackhost.live.writer.Writing), as last reported: a window shows a
        # MIDI controller's writes with them, which start and end in the engine alone
        self.writing_now: tuple = ()
        self._shm: shared_memory.SharedMemory | None = None
        self._process: mp.Process | None = None
        self._conn: Any = None
        self.events: list[str] = []
        # Strips listened to for matching from what plays, and how many seconds (listened again after a restart);
        # and the shared memory each one's ring is in (made here, written by the child's audio thread).
        self._listening: dict[int | c.BusRow | None, float] = {}
        self._match_taps: dict[int | c.BusRow | None, tuple[shared_memory.SharedMemory, MatchTap]] = {}

    # -- lifecycle ----------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        """Start the child and wait until its stream runs (plug-ins load there, which can take a while)."""
        ctx = mp.get_context("spawn")
        self._shm = shared_memory.SharedMemory(create=True, size=8 * _SHM_FLOATS)
        self._view()[:] = 0.0
        parent, child = ctx.Pipe()
        self._conn = parent
        self._process = ctx.Process(
            target=_child_main,
            args=(child, self._shm.name, self.loader, self.device, self.block_size, self.midi, self.spread,
                  self.input_channels, self.partner),
            name="rackhost-engine", daemon=True,
        )
        self._process.start()
        child.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kind, message = self._conn.recv() if self._conn.poll(0.05) else (None, None)
            except (EOFError, OSError):
                kind = message = None  # the child is gone; is_alive() below says how
            if kind is not None:
                if kind == "ready":
                    for strip, seconds in list(self._listening.items()):
                        self.listen_for_match(strip, seconds)
                    return
                if kind == "error":
                    self._reap()
                    raise EngineProcessError(message)
                self.events.append(message)
            if not self._process.is_alive():
                code = self._process.exitcode
                self._reap()
                raise EngineProcessError(f"the engine process died while starting ({_describe_exit(code)})")
        self.stop()
        raise EngineProcessError(f"the engine process did not start within {timeout:g} s")

    def stop(self) -> None:
        """Ask the child to finish (takes are finalized there), then make sure it is gone."""
        if self._process is not None and self._process.is_alive():
            try:
                self._conn.send(c.Quit())
            except (OSError, BrokenPipeError):
                pass
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._reap()

    def restart(self, timeout: float = 120.0) -> None:
        """A new engine process with the same session (after a crash, say)."""
        self.stop()
        self.start(timeout)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- commands -----------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Send a command (:mod:`rackhost.live.commands`) without waiting; a failure comes back as an event."""
        if not isinstance(command, Command):
            raise TypeError(f"EngineProcess.send takes a command from rackhost.live.commands (Play(), "
                            f"SetGain(0, -6.0), ...); got {type(command).__name__}")
        if not self.alive:
            raise EngineProcessError("the engine process is not running; restart it")
        self._conn.send(command)

    # -- matching from what plays -------------------------------------------------------

    def listen_for_match(self, strip: int | c.BusRow | None, seconds: float = DEFAULT_SECONDS) -> None:
        """From now on the engine keeps the last ``seconds`` of what ``strip`` (a track's index, a
        :class:`~rackhost.live.commands.BusRow`, None for the master) plays, both sides, in memory this process
        reads: :meth:`match_from_playing` measures it here, never in the engine process."""
        rate = self.stats().get("sample_rate", 0.0)
        if not rate:
            raise EngineProcessError("the engine process is not running; start it before listening for matching")
        frames = tap_frames(seconds, rate)
        held = self._match_taps.get(strip)
        if held is None or held[1].capacity != frames:
            if held is not None:
                self._release_tap(strip)
            memory = shared_memory.SharedMemory(create=True, size=tap_bytes(frames))
            self._match_taps[strip] = (memory, MatchTap(frames, rate, memory.buf))
        self._listening[strip] = seconds
        self.send(c.ListenForMatch(strip, self._match_taps[strip][0].name, seconds))

    def stop_listening(self, strip: int | c.BusRow | None) -> None:
        """The engine stops keeping what ``strip`` plays (its memory is kept for the next listen)."""
        if self._listening.pop(strip, None) is not None and self.alive:
            self.send(c.StopListening(strip))

    def follow_strips(self, moved: dict[int | c.BusRow, int | c.BusRow]) -> None:
        """Tracks or busses were moved or removed in the parent's session (``moved``: a strip's old place -> its
        new one; one not in it is gone): what is listened to follows its strip. Call it before sending the Sync
        that tells the engine, which follows the strips by name there."""
        for strip in [s for s in self._listening if s is not None and s not in moved]:
            self.stop_listening(strip)  # the engine still has it at its old place
        for strip in [s for s in self._match_taps if s is not None and s not in moved]:
            self._release_tap(strip)
        self._listening = {(None if s is None else moved[s]): v for s, v in self._listening.items()}
        self._match_taps = {(None if s is None else moved[s]): held for s, held in self._match_taps.items()}

    def listening(self, strip: int | c.BusRow | None) -> float | None:
        """The seconds ``strip`` is listened to for (:meth:`listen_for_match`), or None."""
        return self._listening.get(strip)

    def played_seconds(self, strip: int | c.BusRow | None, setting: str | None = None) -> float:
        """How much of what ``strip`` plays the engine keeps now (0.0 if it is not listened to, or with ``setting``
        if the span kept is of the other A/B setting): a cheap read."""
        held = self._match_taps.get(strip)
        if held is None or strip not in self._listening or setting not in (None, held[1].setting):
            return 0.0
        return held[1].span_seconds

    def played(self, strip: int | c.BusRow | None, seconds: float | None = None) -> Played:
        """A copy of what ``strip`` played over the last ``seconds`` (None: all the engine keeps), both sides."""
        from rackhost.chain.matching import MatchError

        if strip not in self._listening or strip not in self._match_taps:
            raise MatchError(f"{_strip_words(strip)} is not listened to for matching; call listen_for_match first "
                             f"and let it play")
        tap = self._match_taps[strip][1]
        return tap.played(seconds if seconds is not None else self._listening[strip])

    def match_from_playing(self, strip: int | c.BusRow | None, audition: Any, seconds: float | None = None, *,
                           other_setting: bool = True) -> Any:
        """Match ``strip`` on what it played over the last ``seconds`` (None: all the engine keeps): measured in
        this process (BS.1770), the offsets put in ``audition`` (the strip's
        :class:`~rackhost.chain.audition.Audition`) and sent to the engine. ``other_setting``: whether the strip
        has a B setting made (without one, B takes A's offset). Returns the new audition; raises
        :class:`~rackhost.chain.matching.MatchError` when there is nothing measurable."""
        played = self.played(strip, seconds)
        offsets = played_offsets(played, where=_strip_words(strip))
        new = matched_from_played(audition, played, offsets, other_setting)
        self.send(c.SetAudition(strip, new.side, new.match, new.delta, new.offsets, new.runs_other,
                                new.compare_slot, new.other_offset))
        return new

    def _release_tap(self, strip: int | c.BusRow | None) -> None:
        memory, tap = self._match_taps.pop(strip)
        tap.head = tap.ring = None  # no view of the block left: it can close
        memory.close()
        memory.unlink()

    # -- state back ---------------------------------------------------------------

    def poll(self) -> list[str]:
        """New events from the child, and a report if it died. Never blocks."""
        new: list[str] = []
        try:
            while self._conn is not None and self._conn.poll(0):
                kind, message = self._conn.recv()
                if kind == "midi_learned":  # data for the parent's session; the child also sent a line
                    self.learned_mappings.append(message)
                    continue
                if kind == "midi_moved":
                    self.moved_targets.append(message)
                    continue
                if kind == "midi_recalled":
                    self.recalled_presets.append(message)
                    continue
                if kind == "take":
                    self.takes.append(message)
                    continue
                if kind == "automation_written":
                    self.written_passes.append(message)
                    continue
                if kind == "automation_writing":
                    self.writing_now = message
                    continue
                new.append(message)
        except (EOFError, OSError):
            pass
        if self._process is not None and not self._process.is_alive():
            new.append(f"the engine process died ({_describe_exit(self._process.exitcode)}); "
                       f"the session is intact: restart the engine to go on")
            self._reap()
        self.events += new
        return new

    def stats(self) -> dict[str, float]:
        view = self._view()
        if view is None:
            return {"alive": 0.0}
        return dict(zip(STAT_FIELDS, view[_METER_FLOATS : _METER_FLOATS + _STAT_FLOATS].tolist()))

    def spectrum_frames(self) -> tuple[int | c.BusRow | None, np.ndarray] | None:
        """(watched strip, (2 [pre, post], frames) oldest first) of the strip a :class:`~rackhost.live.commands.
        WatchSpectrum` named, or None before the engine has published any: a copy, for analysis in this process."""
        view = self._view()
        if view is None:
            return None
        region = view[_METER_FLOATS + _STAT_FLOATS :]
        if region[0] <= 0:
            return None
        code = int(region[1])
        strip = code - 1 if code > 0 else None if code == 0 else c.BusRow(-code - 1)
        frames = region[_SPECTRUM_HEAD : _SPECTRUM_HEAD + 2 * TAP_FRAMES]
        return strip, frames.reshape(2, TAP_FRAMES).copy()

    def slot_reductions(self) -> list[SlotReduction]:
        """The watched chain's gain reduction per stage (each slot, or slots run as one stage), as published."""
        view = self._view()
        if view is None:
            return []
        region = view[_METER_FLOATS + _STAT_FLOATS :]
        if region[0] <= 0:
            return []
        rows = region[_SPECTRUM_HEAD + 2 * TAP_FRAMES :].reshape(MAX_STAGES, _STAGE_FIELDS)[: int(region[2])]
        return [SlotReduction(tuple(range(int(first), int(last) + 1)), float(db), bool(real))
                for first, last, db, real in rows.tolist()]

    def meters(self) -> np.ndarray:
        """(tracks + busses + 1, 2 channels, [peak, rms, peak hold, clip]): a row per session track, then per
        session bus (after its fader), the master last; ``stats()`` says how many ("strips", "busses")."""
        view = self._view()
        if view is None:
            return np.zeros((1, 2, _METER_FIELDS), np.float32)
        strips = int(view[_METER_FLOATS + STAT_FIELDS.index("strips")])
        strips += int(view[_METER_FLOATS + STAT_FIELDS.index("busses")])
        rows = view[:_METER_FLOATS].reshape(MAX_STRIPS + 1, 2, _METER_FIELDS)
        return np.concatenate((rows[:strips], rows[MAX_STRIPS:])).astype(np.float32)

    def _view(self) -> np.ndarray | None:
        if self._shm is None:
            return None
        return np.ndarray((_SHM_FLOATS,), np.float64, self._shm.buf)

    def _reap(self) -> None:
        for strip in list(self._match_taps):
            self._release_tap(strip)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._process = None
        self.writing_now = ()
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()
            self._shm = None


def _strip_words(strip: int | c.BusRow | None) -> str:
    return "the master" if strip is None else f"bus {strip.index}" if isinstance(strip, c.BusRow) else f"track {strip}"


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# -- the child --------------------------------------------------------------------


def _child_main(conn: Any, shm_name: str, loader: SessionLoader, device: Any, block_size: int | None,
                midi: MidiSetup | None = None, spread: bool = True, input_channels: int | None = None,
                partner: bool = False) -> None:
    from rackhost.live.engine import LiveEngine

    shm = shared_memory.SharedMemory(name=shm_name)
    view = np.ndarray((_SHM_FLOATS,), np.float64, shm.buf)
    meters = view[:_METER_FLOATS].reshape(MAX_STRIPS + 1, 2, _METER_FIELDS)
    stats = view[_METER_FLOATS : _METER_FLOATS + _STAT_FLOATS]
    spectrum = view[_METER_FLOATS + _STAT_FLOATS :]
    try:
        session = loader.session()
        if block_size:
            session.block_size = block_size
        engine = LiveEngine(session, device=device, midi=midi.make(session) if midi is not None else None,
                            spread=spread, input_channels=input_channels,
                            partner=partner_starter(loader) if partner else None)
        # The engine holds the session from here: a local would keep this first one, and every plug-in and
        # source it held, alive for the process's life after a Sync replaced it.
        del session
        engine.start()
        _follow_loop(engine)
        control = priority.raise_control_thread(engine.audio_thread_id)
        gc.freeze()  # the session and plug-ins: never walked by a collection
        gc.disable()  # no collection ever starts in the callback: this thread collects, between blocks
    except Exception as err:  # noqa: BLE001 - reported to the parent, which shows it
        conn.send(("error", f"the engine could not start: {err}"))
        shm.close()
        return
    conn.send(("event", f"audio thread {engine.audio_priority}; control thread {control}; {engine.spread_state}; "
                        f"{engine.memory}"))
    stats[STAT_FIELDS.index("sample_rate")] = engine.session.sample_rate  # the parent sizes matching taps by it, from now
    conn.send(("ready", "engine running"))
    targets_sent: dict = {}
    writing_sent: tuple = ()
    trim_at = time.monotonic() + TRIM_SECONDS
    try:
        publish_at = time.monotonic()
        while True:
            if conn.poll(max(0.0, publish_at - time.monotonic())):
                if not _apply_waiting(engine, conn, loader):
                    break
                _send_written(engine, conn)
                engine.after_block()
                gc.collect()  # the old snapshot's cycles, then what the command built joins the frozen objects
                gc.freeze()
            if time.monotonic() >= publish_at:
                for event in engine.poll():
                    conn.send(("event", event))
                _send_written(engine, conn)
                writing = tuple(engine.writes())
                if writing != writing_sent:
                    conn.send(("automation_writing", writing))
                    writing_sent = writing
                while engine.midi is not None and engine.midi.learned:
                    conn.send(("midi_learned", engine.midi.learned.pop(0).to_dict()))
                if engine.midi is not None:
                    for moved in _moved_targets(engine.session, targets_sent):
                        conn.send(("midi_moved", moved))
                    while engine.midi.recalled:
                        conn.send(("midi_recalled", engine.midi.recalled.pop(0)))
                while engine.finished_takes:
                    conn.send(("take", engine.finished_takes.pop(0).report()))
                engine.after_block()  # start right after a block: done before the next one wants the GIL
                _publish(engine, meters, stats)
                _publish_spectrum(engine, spectrum)
                engine.after_block()
                gc.collect(1)  # the young objects (automatic collection is off, see above)
                if time.monotonic() >= trim_at:  # what the old audio states freed goes back (see memory.py)
                    engine.after_block()
                    trim_heap()
                    trim_at = time.monotonic() + TRIM_SECONDS
                publish_at = time.monotonic() + PUBLISH_SECONDS
    except (EOFError, OSError):
        pass  # the parent went away: stop cleanly
    finally:
        engine.stop()
        engine.close()
        stats[STAT_FIELDS.index("alive")] = 0.0
        del meters, stats, spectrum, view
        shm.close()


def _send_written(engine: Any, conn: Any) -> None:
    """Touch and latch passes the engine committed: the parent keeps the session the user undoes in."""
    while engine.written:
        conn.send(("automation_written", engine.written.pop(0)))


def _apply_waiting(engine: Any, conn: Any, loader: SessionLoader) -> bool:
    """Apply every command waiting in the pipe, then update the audio state once (gains only, if that is all).

    A fader dragged at the GUI's frame rate sends a command per frame; one
    gains swap for all of them keeps the control thread's GIL time (which the
    callback waits on) small. Returns False at :class:`~rackhost.live.commands.Quit`.
    A command that fails is reported to the parent and the others still apply.
    """
    needs = NOTHING
    applied: list[str] = []
    while True:
        command = conn.recv()
        if isinstance(command, c.Quit):
            return False
        try:
            needs = max(needs, apply_command(engine, command, loader))
            applied.append(command.label)
            engine.forward(command)  # the partner process, if there is one, applies it too
        except Exception as err:  # noqa: BLE001 - a bad command is reported, the engine goes on
            conn.send(("event", f"{getattr(command, 'label', repr(command))} failed: {err}"))
        if not conn.poll(0):
            break
    try:
        if needs == REBUILD:
            engine.update()  # the partner builds the same state before this one is swapped in
        elif needs == REMIX:
            engine.update_mix()
        engine.flush_partner()  # what needed no rebuild (a parameter) reaches the partner now
    except Exception as err:  # noqa: BLE001 - e.g. a track now takes an input channel the device lacks
        conn.send(("event", f"{' + '.join(dict.fromkeys(applied))} failed: {err}"))
    return True


PARTNER_ENTRY = "rackhost.live.partner_process"  # what a partner process runs (python -m)


def partner_starter(loader: SessionLoader) -> Callable[[int, float], PartnerLink]:
    """What a :class:`~rackhost.live.LiveEngine` calls (with its block size and rate) to start its partner process
    (:mod:`rackhost.live.partner`): one that loads the session with ``loader`` and applies commands as this
    module does. ``LiveEngine(session, partner=partner_starter(loader))``."""
    return functools.partial(PartnerLink, loader, apply_command, PARTNER_ENTRY)


def apply_command(engine: Any, command: Command, loader: SessionLoader | None = None) -> Needs:
    """Apply one command to a :class:`~rackhost.live.LiveEngine`'s session; returns what its audio state needs.

    The caller updates the audio state (``engine.update()`` for
    :data:`~rackhost.live.commands.REBUILD`, ``engine.update_mix()`` for
    :data:`~rackhost.live.commands.REMIX`), once for a batch. ``loader`` is
    needed by :class:`~rackhost.live.commands.Sync` only.
    """
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise EngineProcessError(f"the engine has no handler for {type(command).__name__}; "
                                 f"send a command from rackhost.live.commands")
    needs = handler(engine, command, loader)
    return command.needs if needs is None else needs


# One handler per command type: (engine, command, session loader). Quit has none: it ends the loop above. A handler
# may return what the audio state needs when it is less than its command's (a written wet/dry needs no rebuild).


def _play(engine: Any, command: c.Play, loader: Any) -> None:
    engine.play()


def _pause(engine: Any, command: c.Pause, loader: Any) -> None:
    engine.pause()


def _stop(engine: Any, command: c.Stop, loader: Any) -> None:
    engine.stop()


def _record(engine: Any, command: c.Record, loader: Any) -> None:
    engine.record(command.folder, command.file_format)


def _locate(engine: Any, command: c.Locate, loader: Any) -> None:
    engine.locate(command.frame)


def _loop(engine: Any, command: c.Loop, loader: Any) -> None:
    engine.set_loop(command.start, command.end)


def _strip_value(engine: Any, command: c.StripValue, loader: Any) -> None:
    strip = owner(engine.session, command.track)
    old = getattr(strip, command.attribute)
    setattr(strip, command.attribute, command.value)
    if command.attribute not in STRIP_CONTROLS:
        return
    written = engine.move(strip, StripTarget(command.attribute), command.value)  # type: ignore[arg-type]
    if written and command.attribute == "mute":  # into its envelope only: the switch would silence after the pass
        strip.mute = old


def _reset_clips(engine: Any, command: c.ResetClips, loader: Any) -> None:
    engine.reset_clips(command.track)


def _send_value(engine: Any, command: c.SendValue, loader: Any) -> None:
    try:
        send = owner(engine.session, command.track).send(command.to)
    except KeyError as err:
        raise c.EngineCommandError(f"{err.args[0]}; the send was removed, or the engine has not synced it yet") \
            from err
    setattr(send, command.attribute, command.value)
    if command.attribute == "level_db":
        engine.move(owner(engine.session, command.track), SendTarget(send), command.value)


def _set_parameter(engine: Any, command: c.SetParameter, loader: Any) -> None:
    slot = plugin_slot_of(engine.session, command.track, command.slot, command.path)
    engine.set_parameter(slot.plugin, command.name, command.value)
    engine.move(owner(engine.session, command.track), SlotTarget(slot, command.name), command.value)


def _bypass(engine: Any, command: c.Bypass, loader: Any) -> None:
    item_of(engine.session, command.track, command.slot, command.path).bypass = bool(command.value)


def _set_audition(engine: Any, command: c.SetAudition, loader: Any) -> None:
    from rackhost.chain.audition import Audition

    engine.set_audition(command.track, Audition(command.side, command.match, command.delta, command.offsets,
                                                command.runs_other, command.compare_slot, command.other_offset))


def _set_slot_delta(engine: Any, command: c.SetSlotDelta, loader: Any) -> None:
    plugin_slot_of(engine.session, command.track, command.slot, command.path).delta = command.value


def _mix(engine: Any, command: c.Mix, loader: Any) -> Needs | None:
    slot = plugin_slot_of(engine.session, command.track, command.slot, command.path)
    slot.set_mix(command.value)
    if engine.move(owner(engine.session, command.track), SlotTarget(slot, MIX), command.value):
        return NOTHING  # the envelope's curve holds the new mix: no new chains for each move of a drag
    return None


def _release(engine: Any, command: c.Release, loader: Any) -> None:
    strip = owner(engine.session, command.track)
    engine.release(strip, command.target.target(strip))


def _set_automation_mode(engine: Any, command: c.SetAutomationMode, loader: Any) -> None:
    from rackhost.chain.automation import find

    strip = owner(engine.session, command.track)
    envelope = find(strip, command.target.target(strip))
    if envelope is None:
        raise c.EngineCommandError(f"{command.target} has no envelope on this strip; automate it first")
    if envelope.mode != command.mode:
        engine.end_writes()  # a pass in the old mode ends as it would at a stop
        envelope.mode = command.mode


def _branch_level(engine: Any, command: c.BranchLevel, loader: Any) -> None:
    from rackhost.chain.split import Split, check_branch_level

    split = item_of(engine.session, command.track, command.slot, command.path)
    if not isinstance(split, Split) or command.branch >= len(split.branches):
        what = f"a split with {len(split.branches)} branches" if isinstance(split, Split) else f"{split.name}"
        at = f"slot {command.slot}" + (f" (down {command.path})" if command.path else "")
        raise c.EngineCommandError(f"{at} has no branch {command.branch}: it is {what}; "
                                 f"the engine has not synced the edit yet")
    split.branches[command.branch].level_db = check_branch_level(command.level_db)


def _add_slot(engine: Any, command: c.AddSlot, loader: Any) -> None:
    chain_of(engine.session, command.track).add(command.plugin, command.index, **command.values)


def _remove_slot(engine: Any, command: c.RemoveSlot, loader: Any) -> None:
    chain_of(engine.session, command.track).remove(slot_of(engine.session, command.track, command.slot))


def _move_slot(engine: Any, command: c.MoveSlot, loader: Any) -> None:
    chain_of(engine.session, command.track).move(slot_of(engine.session, command.track, command.slot), command.to)


def _sync(engine: Any, command: c.Sync, loader: SessionLoader | None) -> None:
    if loader is None:
        raise EngineProcessError("this engine was started without a way to take session updates: restart it")
    engine.end_writes()  # a pass names the old session's envelopes: it ends (and is committed) here
    new_session, changes = loader.resynced(engine.session, command.document)
    for change in changes:
        engine.set_parameter(change.plugin, change.name, change.value)
    # What a strip is auditioned as (input, delta, matching gains) is not in the document: it stays with the
    # strip across an edit elsewhere (a slot added, an A/B switch): a track's and a bus's by name.
    for old, new in ((engine.session.tracks, new_session.tracks), (engine.session.busses, new_session.busses)):
        auditions = {strip.name: strip.audition for strip in old}
        for strip in new:
            if strip.name in auditions:
                strip.audition = auditions[strip.name]
    new_session.master.audition = engine.session.master.audition
    # A slot's delta is not in the document either: it stays with the plug-in instance the resync reuses.
    deltas = {id(slot.plugin) for strip in (*engine.session.tracks, *engine.session.busses, engine.session.master)
              for slot in strip.chain.plugin_slots() if slot.delta}
    for strip in (*new_session.tracks, *new_session.busses, new_session.master):
        for slot in strip.chain.plugin_slots():
            slot.delta = id(slot.plugin) in deltas
    engine.session = new_session
    _follow_loop(engine)


def _follow_loop(engine: Any) -> None:
    """Loop as the session says (a started engine, an undo of a loop change, another session opened)."""
    loop = getattr(engine.session, "loop", None)
    engine.set_loop(*(loop.frames(engine.session.sample_rate) if loop is not None else (None, None)))


def _midi_learn(engine: Any, command: c.MidiLearn, loader: Any) -> None:
    engine.session.midi.arm_learn(command.target, minimum=command.minimum, maximum=command.maximum,
                                  curve=command.curve, fourteen_bit=command.fourteen_bit)


def _midi_cancel_learn(engine: Any, command: c.MidiCancelLearn, loader: Any) -> None:
    engine.session.midi.cancel_learn()


def _watch_spectrum(engine: Any, command: c.WatchSpectrum, loader: Any) -> None:
    engine.watch_spectrum(command.track)


def _unwatch_spectrum(engine: Any, command: c.UnwatchSpectrum, loader: Any) -> None:
    engine.watch_spectrum(False)


# The parent's shared memory blocks of matching taps, by name: attached once and kept for the child's life (the
# audio thread may be writing one when it is replaced; the parent unlinks them).
_SHARED_TAPS: dict[str, shared_memory.SharedMemory] = {}


def _listen_for_match(engine: Any, command: c.ListenForMatch, loader: Any) -> None:
    memory = _SHARED_TAPS.get(command.memory)
    if memory is None:
        memory = _SHARED_TAPS[command.memory] = shared_memory.SharedMemory(name=command.memory)
    frames = tap_frames(command.seconds, engine.session.sample_rate)
    if memory.size < tap_bytes(frames):
        raise EngineProcessError(f"the matching tap's memory holds less than {command.seconds:g} s at "
                                 f"{engine.session.sample_rate} Hz; listen again")
    engine.listen_for_match(command.track, command.seconds, buffer=memory.buf, memory=memory)


def _stop_listening(engine: Any, command: c.StopListening, loader: Any) -> None:
    engine.stop_listening(command.track)


def _midi_map(engine: Any, command: c.MidiMap, loader: Any) -> None:
    from rackhost.chain.midi.mapping import resolve

    resolve(command.mapping, engine.session)  # refuse a mapping to nothing before it is kept
    engine.session.midi.add(command.mapping)


def _midi_unmap(engine: Any, command: c.MidiUnmap, loader: Any) -> None:
    if command.mapping in engine.session.midi.mappings:
        engine.session.midi.remove(command.mapping)


def _midi_program(engine: Any, command: c.MidiProgram, loader: Any) -> None:
    engine.session.midi.set_program(command.channel, command.program, command.track, command.preset)


def _midi_unprogram(engine: Any, command: c.MidiUnprogram, loader: Any) -> None:
    engine.session.midi.remove_program(command.channel, command.program, command.track)


HANDLERS: dict[type[Command], Callable[[Any, Any, SessionLoader | None], None]] = {
    c.Play: _play, c.Pause: _pause, c.Stop: _stop, c.Record: _record, c.Locate: _locate, c.Loop: _loop,
    c.SetGain: _strip_value, c.SetPan: _strip_value, c.SetMute: _strip_value, c.SetSolo: _strip_value,
    c.SetSendLevel: _send_value, c.SetSendMute: _send_value, c.ResetClips: _reset_clips,
    c.SetParameter: _set_parameter, c.Bypass: _bypass, c.Mix: _mix, c.BranchLevel: _branch_level,
    c.AddSlot: _add_slot, c.RemoveSlot: _remove_slot, c.MoveSlot: _move_slot, c.Sync: _sync,
    c.MidiLearn: _midi_learn, c.MidiCancelLearn: _midi_cancel_learn, c.MidiMap: _midi_map,
    c.MidiUnmap: _midi_unmap, c.MidiProgram: _midi_program, c.MidiUnprogram: _midi_unprogram,
    c.WatchSpectrum: _watch_spectrum, c.UnwatchSpectrum: _unwatch_spectrum, c.SetAudition: _set_audition,
    c.SetSlotDelta: _set_slot_delta, c.Release: _release, c.SetAutomationMode: _set_automation_mode,
    c.ListenForMatch: _listen_for_match, c.StopListening: _stop_listening,
}


def _moved_targets(session: Any, sent: dict) -> list[tuple[dict, object]]:
    """Mapped targets whose value changed since last sent (a controller moved them), so the parent can follow."""
    from rackhost.chain.midi.mapping import current_value
    from rackhost.errors import MidiMappingError

    moved = []
    for mapping in session.midi.mappings:
        target = mapping.target
        try:
            value = current_value(target, session)
        except (MidiMappingError, KeyError, AttributeError):
            continue
        if sent.get(target, value) != value:
            moved.append((target.to_dict(), value))
        sent[target] = value
    return moved


def _publish(engine: Any, meters: np.ndarray, stats: np.ndarray) -> None:
    current = engine.meters()
    # Rows by session track, then by session bus (a muted strip runs at zero gain: its row reads silence).
    strips = min(len(engine.session.tracks), MAX_STRIPS)
    tracks = np.array(engine.metered_tracks(), np.intp)
    shown = tracks < strips
    rows = np.zeros((strips, 2, _METER_FIELDS))
    rows[tracks[shown]] = current[: len(tracks)][shown]
    meters[:strips] = rows
    metered = {name: current[len(tracks) + k] for k, name in enumerate(engine.metered_busses())}
    busses = min(len(engine.session.busses), MAX_STRIPS - strips)
    for k, bus in enumerate(engine.session.busses[:busses]):
        meters[strips + k] = metered.get(bus.name, 0.0)
    meters[MAX_STRIPS] = current[-1]
    s = engine.stats()
    engine.after_block()  # the loudness meter is the longest part: give it a fresh gap between blocks
    loudness = engine.loudness()
    values = (1.0, s.running, s.position, s.playing, s.recording, s.xruns, s.callbacks, s.load_p50, s.load_p99,
              s.load_max, s.latency_frames, s.dropped_frames, strips,
              loudness["momentary_lufs"], loudness["short_term_lufs"], loudness["integrated_lufs"],
              loudness["true_peak_dbtp"], loudness["true_peak_max_dbtp"],
              priority.realtime_priority(engine.audio_thread_id) if engine.audio_thread_id else 0, busses,
              engine.session.sample_rate, s.partner_late, s.own_p50, s.tracks_p50,
              s.partner_wake_p50, s.partner_render_p50)
    stats[:] = values


def _publish_spectrum(engine: Any, region: np.ndarray) -> None:
    """Copy the tap's ring for the parent (16k floats at 15 Hz); the analysis is the parent's."""
    tap = engine.spectrum_tap
    if tap is None:
        region[0] = 0.0
        return
    region[0] = 0.0  # a reader between these lines sees no tap rather than a half-copied one
    region[1] = 0.0 if tap.kind == "master" else -1 - tap.bus if tap.kind == "bus" else tap.strip + 1
    region[_SPECTRUM_HEAD : _SPECTRUM_HEAD + 2 * TAP_FRAMES] = tap.frames().reshape(-1)
    reductions = engine.stage_reductions()[:MAX_STAGES]
    rows = region[_SPECTRUM_HEAD + 2 * TAP_FRAMES :].reshape(MAX_STAGES, _STAGE_FIELDS)
    for row, reduction in zip(rows, reductions):
        row[:] = (reduction.slots[0], reduction.slots[-1], reduction.db, reduction.reported)
    region[2] = len(reductions)
    region[0] = max(1, tap.written)
