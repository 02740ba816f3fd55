"""The live engine: one duplex sounddevice stream running the session's block engine.

:class:`LiveEngine` is the control side: it opens the stream, prepares each
new audio state off the audio thread, queues parameter changes, starts and
stops the transport and the recorder, and reads the meters. The audio
callback it runs, and the real-time rules that callback follows, are in
:mod:`rackhost.live.callback`.
"""

from __future__ import annotations

import collections
import os
import select
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rackhost.chain.audition import Audition
from rackhost.chain.audition_measure import measure_audition
from rackhost.chain.automation import WRITING_MODES, SendTarget, SlotTarget, StripTarget, Target, find, write_label
from rackhost.chain.dsp import DelayCarry, gain_to_db
from rackhost.chain.plugin import Plugin
from rackhost.chain.session import Session
from rackhost.chain.sidechain import twin_of
from rackhost.errors import RackhostError
from rackhost.live import memory, priority
from rackhost.live.callback import LOAD_HISTORY, AudioCallback, Feed, LiveState, Now, track_renderer
from rackhost.live.commands import BusRow, StripKey, find_strip, strip_key
from rackhost.live.commands import owner as strip_at
from rackhost.live.meters import METER_FIELDS, BlockLevels, LoudnessMeter, MeterReader
from rackhost.live.midi_input import LiveMidi, instrument_feed
from rackhost.live.match_tap import DEFAULT_SECONDS, MatchTap, matched_from_played, played_offsets, tap_frames
from rackhost.live.recorder import Recorder, RecordingError, Ring, Take
from rackhost.live.spectrum_tap import SlotReduction, SpectrumTap, StageRing
from rackhost.live.partner import (FORWARDED, MAX_PARTNER_TRACKS, PARTNER_FEWER, PARTNER_MIN_TRACKS, PartnerLink,
                                   slot_at)
from rackhost.live.spread import SPREAD_MIN_TRACKS, Share, TrackWorker, start_worker
from rackhost.live.writer import AutomationWriter, Writing, WrittenPass, envelope_value

SWITCH_INTERVAL = 0.0001  # seconds: short, so the audio thread gets the GIL back quickly from another thread


class LiveEngineError(RackhostError):
    pass


@dataclass(frozen=True)
class EngineStats:
    running: bool
    position: int  # transport position in frames
    playing: bool
    recording: bool
    xruns: int
    callbacks: int
    load_p50: float  # callback time as a fraction of the block period
    load_p99: float
    load_max: float
    latency_frames: int  # round trip: device input + device output + one block + plug-ins
    device_latency_frames: int  # what the device reports for its input and output together
    plugin_latency_frames: int  # the slowest path to the master (tracks, busses) plus the master chain
    dropped_frames: int
    fault: str | None
    # Of the xruns, the blocks the partner process had not finished when the callback needed them (its tracks
    # silent for that block): a late partner, not a late device, which a figure of xruns alone cannot tell apart.
    partner_late: int = 0
    # Where the callback's time goes (p50s, fractions of the period like load_p50): until its own tracks were
    # rendered, and until every track was (with the partner's or the second thread's; the wait for them is the
    # difference). What follows, load_p50 - tracks_p50, is the mix, the busses, the master, meters and rings.
    own_p50: float = 0.0
    tracks_p50: float = 0.0
    # The partner's side: from the callback's wake to the partner's start, and its render (0.0: no partner).
    partner_wake_p50: float = 0.0
    partner_render_p50: float = 0.0


class LiveEngine(AudioCallback):
    """Runs a session live on an audio device. Control it from one thread (the one that made it)."""

    def __init__(
        self,
        session: Session,
        *,
        device: Any = None,
        input_channels: int | None = None,
        output_channels: int = 2,
        midi: LiveMidi | None = None,
        spread: bool = True,
        partner: Callable[[int, float], PartnerLink] | None = None,
    ):
        self.session = session
        # Starts a partner process (rackhost.live.process.partner_starter(loader)): half the file tracks render
        # there, on the other core (see partner.py); None: they run on this process's audio threads.
        self._partner_start: Callable[[int, float], PartnerLink] | None = partner
        self._partner: PartnerLink | None = None
        self._partner_names: frozenset[str] = frozenset()  # the tracks the partner renders now, by name
        # Share the tracks of each block with a second real-time thread (see spread.py), where allowed.
        self.spread = spread
        self._worker: TrackWorker | None = None
        self.spread_state = "off" if not spread else "not started"
        self.midi = midi  # MIDI inputs, mappings, instrument tracks (see rackhost.live.midi_input)
        self.device = device
        self.output_channels = output_channels
        # 0 input channels: an output-only stream (file and instrument tracks only). Left to the engine, it
        # opens the channels the tracks take, at least one, and falls back to none if there is no input.
        self._inputs_asked = input_channels
        self._inputs_needed = max((c + 1 for t in session.tracks for c in t.input), default=0)
        self.input_channels = input_channels if input_channels is not None else max(self._inputs_needed, 1)
        self._no_input = np.zeros((session.block_size, 0), np.float32)  # the callback's input when there is none
        self._notices: list[str] = []  # said once, at the next poll()
        self._params: collections.deque = collections.deque()
        self._loads = np.zeros(LOAD_HISTORY, np.float64)
        self._phases = np.zeros((LOAD_HISTORY, 4), np.float64)
        self._started = 0.0
        self._callbacks = 0
        self._xruns = 0
        self._position = 0  # written only by the callback (and before the stream starts)
        self._locates: collections.deque = collections.deque()  # positions to jump to, taken at block start
        self._playing = False
        self._recording = False
        self._fault: str | None = None
        self._failed: collections.deque = collections.deque()  # (track or bus name, StageError) from the callback
        self.events: list[str] = []  # what the engine reports to the user, oldest first
        self._stream: Any = None
        self._server_lost = False
        self._closing = False
        self._loop: tuple[int, int] | None = None
        # The master's last 3 s, for loudness meters computed on the control thread, not in the callback.
        self._master_ring = Ring(2, 3 * session.sample_rate)
        self._loudness = LoudnessMeter(session.sample_rate)
        self._spectrum_tap: SpectrumTap | None = None
        self._spectrum_key: StripKey = None  # the watched strip, by name: its index is looked up at each rebuild
        # Strips listened to for matching from what plays, by name (an index would name another strip once tracks
        # are moved or removed): each rebuild finds where they are now.
        self._match_taps: dict[StripKey, MatchTap] = {}
        self._loudness_read = 0  # master frames measured so far (a position in the ring)
        self._stopped = True  # the transport is stopped, not paused: play starts a new integrated measurement
        self._recorder: Recorder | None = None
        self.finished_takes: list[Take] = []  # takes stopped since a reader last took them, oldest first
        self.partner_side = False  # True in a partner process (see partner.py): it never opens a stream
        # Plug-in instances by id: those the session holds, and those it dropped at the last update (see update()).
        self._held: dict[int, Any] = {}
        self._retiring: dict[int, Any] = {}
        self._meter_reader = MeterReader(session.sample_rate)  # meters(): this engine's own reader
        self._state: LiveState | None = None
        self._carry = DelayCarry()  # the mix's alignment delays, handed from one snapshot to the next
        self._writer = AutomationWriter(session.sample_rate, session.block_size)  # touch and latch passes
        # Every finished write pass (oldest first), committed to the session's history (one step per stop or
        # release); an engine process hands them to its parent, which keeps the session the user undoes in.
        self.written: list[WrittenPass] = []
        self.io_latency = 0
        self.audio_thread_id = 0  # the native id of the thread running the callback, once it has run
        # after_block(): the control thread sleeps on a pipe (made by start()); the callback writes a byte to it.
        self._wake_read = self._wake_write = -1
        self._wake_wanted = False
        self.audio_priority = "not started"  # how that thread is scheduled, for the user
        self.memory = "not started"  # whether huge pages were turned off for the process, for the user

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Open the duplex stream at the session's rate and block size and start monitoring."""
        import sounddevice as sd

        if self.midi is not None:
            self.midi.open()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.memory = memory.disable_huge_pages()  # khugepaged's collapses stall the callback (see memory.py)
        if self._wake_read < 0:
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_read, False)
            os.set_blocking(self._wake_write, False)
        if self._partner_start is not None and self._partner is None and self._partner_worthwhile():
            # Spawned now, so it loads the session on the other core while this one warms up.
            self._partner = self._partner_start(self.session.block_size, self.session.sample_rate)
        self._warm_up()
        self.session.reset()  # start from silence, as an offline render does
        self._carry = DelayCarry()  # and so do the mix's alignment delays (not the warm-up's audio)
        self.update()
        try:
            self._stream = self._open(self.input_channels)
        except sd.PortAudioError as err:
            if self._inputs_asked is not None or self._inputs_needed or not self.input_channels:
                raise self._refused(err) from err
            try:  # no track takes an input: play without one (an output-only device, no default input)
                self._stream = self._open(0)
            except sd.PortAudioError:
                raise self._refused(err) from err
            self._notices.append(f"no audio input could be opened ({err}); playing file and instrument tracks "
                                 f"only: choose an input device to monitor or record inputs")
            self.input_channels = 0
        latency = self._stream.latency
        if not self.input_channels:
            latency = (0.0, latency)  # an output stream reports one figure
        self.io_latency = int(round((latency[0] + latency[1]) * self.session.sample_rate))
        self._stream.start()
        deadline = time.monotonic() + 1.0
        while not self.audio_thread_id and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.audio_thread_id:
            self.audio_priority = priority.raise_audio_thread(self.audio_thread_id)
        if self._partner is not None:
            level = priority.realtime_priority(self.audio_thread_id) if self.audio_thread_id else 0
            self._partner.set_priority(level)
            self.update()  # now the partner takes its tracks
            self.spread_state = (f"file tracks shared with a partner process (its audio thread at SCHED_FIFO {level})"
                                 if self._partner.alive else f"partner process not used: {self._partner.lost}")
        elif self.spread and self._worker is None:
            self._worker, self.spread_state = start_worker(self.audio_thread_id)

    def _partner_worthwhile(self) -> bool:
        """Two cores or more, and enough file tracks in the session as loaded for the partner to take half.

        Decided once, at start: the partner loads the session as the loader has it, which later edits move away
        from (the partner then follows them command by command).
        """
        session = self.session
        files = sum(1 for t in session.tracks if t.source is not None and not t.input and t.instrument is None)
        return (os.cpu_count() or 1) >= 2 and files >= PARTNER_MIN_TRACKS and not session.midi.programs

    def _open(self, inputs: int) -> Any:
        """The stream at the session's rate and block size: duplex, or output-only with no inputs."""
        import sounddevice as sd

        options = dict(samplerate=self.session.sample_rate, blocksize=self.session.block_size, dtype="float32",
                       finished_callback=self._finished)
        if not inputs:
            device = self.device[1] if isinstance(self.device, (tuple, list)) else self.device
            return sd.OutputStream(device=device, channels=self.output_channels, callback=self._output_callback,
                                   **options)
        return sd.Stream(device=self.device, channels=(inputs, self.output_channels), callback=self._callback,
                         **options)

    def _refused(self, err: Exception) -> LiveEngineError:
        from rackhost.live import devices

        try:
            found = devices.list_devices()
        except devices.AudioDeviceError:
            found = []
        if not found:  # PortAudio's own words ("Error querying device -1") tell a user nothing
            return LiveEngineError(devices.no_device_message())
        return LiveEngineError(
            f"cannot open the audio device {self.device or '(default)'} at {self.session.sample_rate} Hz, "
            f"{self.input_channels} in / {self.output_channels} out, block {self.session.block_size}: {err}; "
            f"'rackhost devices' lists what the devices support"
        )

    def _warm_up(self, blocks: int = 4) -> None:
        """Run a few blocks of silence: plug-ins allocate on their first calls, which must not be the stream's."""
        self.update()
        state = self._state
        assert state is not None
        silence = np.zeros((self.session.block_size, self.input_channels), np.float32)
        scratch = np.zeros((self.session.block_size, self.output_channels), np.float32)
        playing, self._playing = self._playing, False
        for _ in range(blocks):
            self._process(state, silence, scratch)
        self._playing = playing
        # The loudness meter imports scipy on first use: done now, not on the control thread while the
        # stream runs, where the import held the GIL long enough to make the first published second late.
        self._loudness.feed(np.zeros((2, 0), np.float32))

    def close(self) -> None:
        """Stop the stream and finish any take."""
        if self._recording:
            self.stop()
        if self._stream is not None:
            lost = self._stream_lost()
            self._closing = True
            if not lost:
                self._stream.close()
            # A stream whose server died is left alone: closing it can hang (see devices.server_lost).
            self._stream = None
        if self._worker is not None:
            self._worker.stop()  # after the stream: the callback no longer hands it blocks
            self._worker = None
        if self._partner is not None:
            self._partner.close()  # after the stream, likewise
            self._partner = None
        if self._wake_read >= 0:
            os.close(self._wake_read)
            os.close(self._wake_write)
            self._wake_read = self._wake_write = -1
        if self.midi is not None:
            self.midi.close()

    def __enter__(self) -> LiveEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- changes from the control thread -------------------------------------------------

    def update(self) -> None:
        """Rebuild the audio state after a structural change to the session (one assignment swaps it in)."""
        old = self._state
        state = self._prepare(old.takes if old else ())
        if self._partner is not None and self._stream is not None:
            state = self._join_partner(state)
        self._state = state
        self._retire_instances()

    def _retire_instances(self) -> None:
        """Free the plug-in instances the session dropped before the previous update (a slot removed, a
        preset loaded, a width changed): by then no audio state runs them.

        pedalboard's parameter wrappers and their plug-in refer to each other, so a dropped instance
        waits for the cyclic garbage collector, which never looks at it in the engine process (its
        objects are frozen there, see rackhost.live.process): each removed VST3 stayed in memory for
        good. Breaking the loop lets reference counting free it.
        """
        current = _plugin_instances(self.session)
        for key, instance in self._retiring.items():
            if key not in current:
                _break_wrapper_cycle(instance)
        self._retiring = {key: instance for key, instance in self._held.items() if key not in current}
        self._held = current

    def forward(self, command: Any) -> None:
        """A command this engine applied, for the partner process to apply too (process.py calls it)."""
        if self._partner is not None and self._partner.alive and type(command).__name__ in FORWARDED:
            self._partner.forward(command)

    def flush_partner(self) -> None:
        if self._partner is not None:
            self._partner.flush()

    def _join_partner(self, state: LiveState) -> LiveState:
        """``state`` with the file tracks handed to the partner, which builds the same state; or as it is."""
        partner = self._partner
        assert partner is not None
        session = self.session
        eligible: list[tuple[int, int, str]] = []  # (lane, session index, name) of the tracks the partner may take
        if partner.alive and not session.midi.programs:  # a program change recalls presets here only
            mapped = {m.target.track for m in session.midi.mappings}
            armed = {k for k, _ in state.takes}
            for lane, strip in enumerate(state.snapshot.tracks):
                track = session.tracks[strip.index]
                # A touch or latch envelope is overridden by moves the engine records here: kept here too.
                writes = any(getattr(e, "mode", "read") in ("touch", "latch") for e in track.automation)
                # A keyed track and the tracks it hears render here, in order (MixSnapshot.render_order).
                keyed = lane in state.last or lane in state.snapshot.key_sources
                # A track listened to for matching fills a ring in this process (the window reads it).
                listened = ("track", track.name) in self._match_taps
                if (track.source is not None and not track.input and track.instrument is None
                        and strip.index not in mapped and lane not in armed and not writes and not keyed
                        and not listened):
                    eligible.append((lane, strip.index, track.name))
        # Half the tracks each, less a few for the partner, whose rows come back a wake-up each way later (see
        # PARTNER_FEWER). A track stays where it runs across edits (moving it resets its plug-ins), so only new
        # tracks even the halves out, and the partner keeps at most two more than its share.
        half = min(MAX_PARTNER_TRACKS,
                   len(state.snapshot.tracks) // 2 - (PARTNER_FEWER if len(state.snapshot.tracks) >= 16 else 0))
        chosen = [e for e in eligible if e[2] in self._partner_names][: min(half + 2, MAX_PARTNER_TRACKS)]
        chosen += [e for e in eligible if e[2] not in self._partner_names][: max(0, half - len(chosen))]
        chosen.sort()
        if len(chosen) < PARTNER_MIN_TRACKS // 2:
            chosen = []
        tracks = [index for _, index, _ in chosen]
        lanes = [lane for lane, _, _ in chosen]
        block = None
        if chosen:
            block = partner.join(tuple(tracks), tuple(lanes))
            if block is None:
                chosen = []
        else:
            partner.flush()  # nothing for it to render now; it still follows every edit
        # A track coming back from the partner: this process's copy of its plug-ins has not played meanwhile.
        names = {name for _, _, name in chosen}
        for track in session.tracks:
            if track.name in self._partner_names and track.name not in names:
                track.chain.reset()
        self._partner_names = frozenset(names)
        if block is None:
            if partner.lost is not None and not self.spread_state.startswith("partner process lost"):
                self._notices.append(f"the partner process stopped ({partner.lost}); every track runs in the engine "
                                     f"process from now on")
                self.spread_state = f"partner process lost: {partner.lost}"
                if self.spread and self._worker is None and self.audio_thread_id:
                    # The second audio thread takes the other core: this state, made without a partner, has a share.
                    self._worker, threads = start_worker(self.audio_thread_id)
                    self.spread_state += f"; {threads}"
            return state
        taken = set(lanes)
        own = tuple(k for k in state.numbers if k not in taken)
        render = state.render

        def run_own() -> None:
            for k in own:
                render(k)

        return replace(state, partner=block, own=run_own, numbers=own, share=None)

    def update_mix(self) -> None:
        """Swap in the session's faders, pans, mutes, solos and master gain; chains, inputs and takes stay.

        A fader dragged in the GUI sends a value per frame: this makes a new
        gains array, not new chains and feeds (:meth:`update`), so it takes the
        control thread microseconds of the GIL the callback also needs.
        """
        old = self._state
        if old is None or not self.session.fits(old.snapshot):
            self.update()  # tracks, busses or paths were added or removed as well
            return
        self._state = replace(old, snapshot=self.session.remix(old.snapshot))
        self._attach_stage_levels(self._state)

    @property
    def worker_tracks(self) -> int:
        """How many track blocks the second audio thread has rendered (0 when tracks are not shared)."""
        return self._worker.rendered if self._worker is not None else 0

    def set_parameter(self, plugin: Plugin, name: str, value: object) -> None:
        """Change a parameter at the next block boundary, without touching the plug-in from this thread."""
        info = plugin.info(name)
        coerced = info.coerce(plugin.name, value)
        native: object = coerced
        if info.type == "choice" and plugin.is_builtin:
            from rackhost.chain.builtins import enum_value

            native = enum_value(plugin.instance, name, str(coerced))
        twin = twin_of(plugin)  # a keyed slot runs its minihost twin: it follows at the same block boundary
        self._params.append((plugin.instances if twin is None else (*plugin.instances, twin.parameters), name, native))

    # -- writing automation (touch, latch) ----------------------------------------------

    def move(self, owner: Any, target: Target, value: object, source: str = "window") -> bool:
        """A control of ``owner`` moved to ``value`` (already set on the model, and sent on as usual): if its
        envelope is in touch or latch mode and the transport plays, the envelope is overridden from the next
        block and the move written. True when it was (the value then needs no other route to the sound)."""
        envelope = find(owner, target)
        if envelope is None or envelope.mode not in WRITING_MODES or not self._playing:
            return False
        return self._writer.move(owner, envelope, envelope_value(owner, envelope, value), self._position,
                                 self._loop, source)

    def release(self, owner: Any, target: Target) -> None:
        """The control of ``owner`` was let go: a touch write on its envelope ends, the envelope plays again."""
        envelope = find(owner, target)
        if envelope is not None and envelope.mode == "touch":
            self._end_writes([envelope], glide=True)

    def writing(self, owner: Any, target: Target) -> bool:
        """Is a touch or latch pass writing ``target``'s envelope now?"""
        envelope = find(owner, target)
        return envelope is not None and self._writer.writing(envelope)

    def writes(self) -> list[Writing]:
        """The passes being written now, as a parent process is told of them (control thread)."""
        out = []
        for written in self._writer.passes.values():
            try:
                out.append(Writing.of(self.session, written, self.session.sample_rate))
            except (RackhostError, StopIteration):  # its strip or slot left the session: the pass ends soon
                continue
        return out

    def end_writes(self) -> None:
        """End every touch and latch pass now (before the session is replaced, say), committing what they wrote."""
        self._end_writes(None)

    def _end_writes(self, envelopes: list | None, glide: bool = False) -> None:
        """End passes and commit their points, all of them as one undo step, then play the new envelopes.
        ``glide``: a touch let go while playing goes back to its envelope over the session's glide time."""
        frames = int(round(self.session.automation_glide * self.session.sample_rate)) if glide and self._playing else 0
        finished = self._writer.end(envelopes, self._position, self._loop, frames)
        if not finished:
            return
        kept = []
        with self.session.history.group(write_label(finished[0].mode,
                                                    [f.envelope.describe() for f in finished])):
            for done in finished:
                try:
                    self.session.edit.set_points(done.owner, done.envelope, done.points)
                    kept.append(WrittenPass.of(self.session, done))
                except RackhostError as err:  # its slot or send was removed meanwhile: said, the rest kept
                    self._notices.append(f"the write of {done.envelope.describe()} was not kept: {err}")
        self.written += kept
        if self._state is not None:
            self.update()

    def _midi_moved(self, target: Any, value: object) -> bool:
        """A mapped controller moved ``target`` (a :class:`~rackhost.chain.midi.mapping.MappingTarget`); True if
        the move was written."""
        try:
            owner = target.owner(self.session)
            if target.kind == "parameter":
                return self.move(owner, SlotTarget(target.item(self.session), target.parameter), value, "midi")
            if target.kind == "send":
                return self.move(owner, SendTarget(target.send_of(self.session)), value, "midi")
            return self.move(owner, StripTarget("gain_db" if target.kind == "gain" else target.kind), value, "midi")
        except (RackhostError, IndexError, ValueError) as err:  # a mapping to something gone: said, not raised
            self._notices.append(f"MIDI move not written: {err}")
            return False

    def set_audition(self, track: int | BusRow | None, audition: Audition) -> None:
        """Play the chain of track ``track`` (an index), a bus (a :class:`BusRow`) or the master (None), its
        input (bypass-compare, matched or not) or the delta, from the next block, crossfaded
        (:mod:`rackhost.chain.audition`); the strip keeps ``audition`` for the next snapshot."""
        strip = strip_at(self.session, track)
        was = strip.audition
        strip.audition = audition
        if (audition.runs_other, audition.compare_slot) != (was.runs_other, was.compare_slot):
            if self._state is not None:
                self.update()  # the inactive A/B setting starts (or stops) running beside the chain
            return
        state = self._state
        if state is None:
            return
        snapshot = state.snapshot
        if track is None:
            stage = snapshot.master.audition
        elif isinstance(track, BusRow):
            router = snapshot.router
            stage = router.busses[track.index].audition if router is not None and track.index < len(
                router.busses) else None
        else:
            stage = snapshot.tracks[track].audition if track < len(snapshot.tracks) else None
        if stage is not None:
            self._params.append(((stage,), "target", audition.gains(strip.ab.active)))

    def measure_audition(self, track: int | BusRow | None) -> Audition:
        """Measure the chain (both A/B settings) of track ``track``, a bus (a :class:`BusRow`) or the master
        (None) against its input over the loop range (or the whole session) and keep the matching offsets;
        returns the strip's audition with them. The playing plug-ins are only read, never run, meanwhile."""
        audition = measure_audition(self.session, strip_at(self.session, track), self._loop)
        self.set_audition(track, audition)
        return audition

    def listen_for_match(self, track: int | BusRow | None, seconds: float = DEFAULT_SECONDS, buffer: Any = None,
                         memory: Any = None) -> MatchTap:
        """From the next block on, keep the last ``seconds`` of what track ``track`` (an index), a bus (a
        :class:`BusRow`) or the master (None) plays, both sides (its latency-aligned input and its chain's
        output), for :meth:`match_from_playing`. ``buffer``: memory for the ring (an engine process's parent
        made it, and reads it; ``memory`` is what holds it); None: the engine's own."""
        key = strip_key(self.session, track)  # refuses a strip that is not there
        rate = self.session.sample_rate
        frames = tap_frames(seconds, rate)
        tap = self._match_taps.get(key)
        if tap is None or tap.capacity != frames or buffer is not None:
            tap = MatchTap(frames, rate, buffer)
            tap.memory = memory
        self._match_taps[key] = tap  # a track the partner renders comes back here at the rebuild
        if self._state is not None:
            if isinstance(track, int) and self.session.tracks[track].name in self._partner_names:
                self.update()
            else:
                self._attach_match_taps(self._state)
        return tap

    def stop_listening(self, track: int | BusRow | None) -> None:
        """Stop filling ``track``'s matching tap (:meth:`listen_for_match`)."""
        if self._match_taps.pop(strip_key(self.session, track), None) is not None and self._state is not None:
            stage = self._audition_stage(self._state, track)
            if stage is not None:
                stage.listen(None)

    def match_from_playing(self, track: int | BusRow | None, seconds: float | None = None) -> Audition:
        """Measure what track ``track`` (an index), a bus (a :class:`BusRow`) or the master (None) played over
        the last ``seconds`` (None: all the tap keeps), both sides over the same frames, keep the matching
        offsets and play them (:meth:`set_audition`); returns the strip's audition. The strip must be listened to
        (:meth:`listen_for_match`). Measured on this thread in slices, each right after a block, so the
        callback never waits long for the GIL. Raises :class:`~rackhost.chain.matching.MatchError`."""
        from rackhost.chain.matching import MatchError

        strip = strip_at(self.session, track)
        tap = self._match_taps.get(strip_key(self.session, track))
        if tap is None:
            raise MatchError(f"{strip.strip_name} is not listened to for matching; call listen_for_match first "
                             f"and let it play")
        played = tap.played(seconds if seconds is not None else tap.capacity / tap.sample_rate)
        offsets = played_offsets(played, self.after_block, strip.strip_name)
        audition = matched_from_played(strip.audition, played, offsets, strip.ab.other is not None)
        self.set_audition(track, audition)
        return audition

    def match_tap(self, track: int | BusRow | None) -> MatchTap | None:
        """The ring ``track`` (an index, a :class:`BusRow`, None: the master) is listened to with, or None."""
        return self._match_taps.get(strip_key(self.session, track))

    def _audition_stage(self, state: LiveState, track: int | BusRow | None) -> Any:
        snapshot = state.snapshot
        if track is None:
            return snapshot.master.audition
        if isinstance(track, BusRow):
            router = snapshot.router
            return router.busses[track.index].audition if router is not None and track.index < len(
                router.busses) else None
        lane = state.lane_of.get(track)
        return snapshot.tracks[lane].audition if lane is not None else None

    def _attach_match_taps(self, state: LiveState) -> None:
        """Give the listened strips' audition stages (in ``state``) their taps, with what each plays."""
        if not self._match_taps:
            return
        session = self.session
        live = any(t.input or t.instrument is not None for t in session.tracks)
        for key, tap in list(self._match_taps.items()):
            found, track = find_strip(session, key)
            if not found:
                continue  # the strip is gone: nothing taps it until it is there again
            strip = strip_at(session, track)
            stage = self._audition_stage(state, track)
            if stage is None:
                continue
            audition = strip.audition
            other = -2 if stage.other is None else -1 if audition.compare_slot is None else audition.compare_slot
            # A file plays only while the transport does; a live input (and so a bus or master it may feed) always.
            if isinstance(track, int):
                tap.always = bool(strip.input) or strip.instrument is not None
            else:
                tap.always = live
            tap.now = state.now
            stage.listen(tap, (int(strip.ab.active == "B"), other))

    def play(self) -> None:
        if self._stopped:
            self._restart_integrated()
        self._playing = True

    def pause(self) -> None:
        self._playing = False
        self._end_writes(None)

    def _restart_integrated(self) -> None:
        """Play from stop: integrated loudness and maximum true peak start again."""
        self._measure_loudness()  # what played before belongs to the old measurement
        self._loudness.reset_integrated()
        self._stopped = False

    def locate(self, frame: int) -> None:
        """Move the transport; the callback takes the new position at its next block (never lost mid-block)."""
        frame = max(0, int(frame))
        if self._writer.passes:  # a write goes on from the new place, not over what was skipped
            self._writer.jump(self._position, frame)
        if self._stream is None:
            self._position = frame
        else:
            self._locates.append(frame)

    def set_loop(self, start: int | None, end: int | None = None) -> None:
        """Loop the transport between two frames (whole blocks); ``None`` turns looping off."""
        if start is None or end is None:
            self._loop = None
            return
        if not 0 <= start < end:
            raise LiveEngineError(f"loop range {start}..{end} is empty; the end must come after the start")
        block = self.session.block_size
        self._loop = (start, max(end, start + block))

    def loudness(self) -> dict[str, float]:
        """The master's loudness meters (LUFS, dBTP; -inf until there is enough signal).

        ``momentary_lufs`` (400 ms), ``short_term_lufs`` (3 s), ``true_peak_dbtp``
        (last 400 ms), and, since the transport last started from stop (play
        or record; measured while it plays), ``integrated_lufs`` (gated, BS.1770-4)
        and ``true_peak_max_dbtp``. Each call measures the master's output since
        the previous one (at most the last 3 s): call it a few times a second
        from the control thread.
        """
        self._measure_loudness()
        meter = self._loudness
        return {
            "momentary_lufs": meter.momentary,
            "short_term_lufs": meter.short_term,
            "integrated_lufs": meter.integrated,
            "true_peak_dbtp": gain_to_db(meter.true_peak),
            "true_peak_max_dbtp": gain_to_db(meter.true_peak_max),
        }

    def _measure_loudness(self) -> None:
        ring = self._master_ring
        written = ring.written
        start = max(self._loudness_read, written - ring.capacity)
        self._loudness_read = written
        if written > start:
            self._loudness.integrating = self._playing
            first, last = start % ring.capacity, written % ring.capacity
            if first < last:
                frames = ring.buffer[first:last]
            else:
                frames = np.concatenate((ring.buffer[first:], ring.buffer[:last]))
            self._loudness.feed(frames.T)

    def record(self, folder: str | Path, file_format: str = "WAV") -> list[Take]:
        """Start recording every armed input track (dry and wet) into ``folder``; starts the transport.

        ``file_format``: "WAV" (24-bit), or "RF64"/"W64" for takes that may pass 4 GB.
        """
        armed = [(i, t) for i, t in enumerate(self.session.tracks) if t.armed and t.input]
        if not armed:
            raise RecordingError("no track is armed for recording: arm a track that has an input")
        state = self._state or self._prepare(())
        strips = {s.index: k for k, s in enumerate(state.snapshot.tracks)}
        recorder = Recorder(Path(folder), self.session.sample_rate, file_format=file_format)
        widths = {s.index: s.width for s in state.snapshot.tracks}  # a widened mono input records a stereo wet take
        rate, block = self.session.sample_rate, self.session.block_size
        takes = recorder.prepare([(t.name, t.channels, t.chain.latency(rate, block), widths.get(i, t.channels))
                                  for i, t in armed])
        recorder.start()
        self._recorder = recorder
        self._state = self._prepare(tuple((strips[i], take) for (i, _), take in zip(armed, takes) if i in strips))
        self._recording = True
        if self._stopped:
            self._restart_integrated()
        self._playing = True
        return takes

    def stop(self) -> list[Take]:
        """Stop the transport and any recording; returns the takes written. Touch and latch writes end here."""
        self._playing = False
        self._stopped = True
        self._end_writes(None)
        if self.midi is not None:
            self.midi.release()  # no note hangs after a stop
        takes: list[Take] = []
        if self._recording and self._recorder is not None:
            self._recording = False
            self._state = self._prepare(())
            time.sleep(2 * self.session.block_size / self.session.sample_rate)  # let the last block land
            self._recorder.stop()
            takes = self._recorder.takes
            self.finished_takes += takes
        return takes

    def after_block(self, timeout: float = 0.01) -> None:
        """Return as soon as the callback has finished a block (or after ``timeout``), on the control thread.

        Work started then, while the audio thread is idle until its next period,
        seldom holds the GIL when the callback wants it. It waits in ``select``
        on a pipe the callback writes one byte to (a non-blocking write): no
        lock, and no polling that would take the GIL from the callback.
        """
        if self._stream is None or self._wake_read < 0:
            return
        try:
            os.read(self._wake_read, 256)  # a byte left from a wait that timed out
        except BlockingIOError:
            pass
        self._wake_wanted = True
        select.select([self._wake_read], [], [], timeout)

    def poll(self) -> list[str]:
        """Handle what the callback reported; call it regularly from the control thread.

        A slot that raised is bypassed from then on (and the user told). Returns new events.
        """
        new: list[str] = []
        bypassed = False
        self._stream_lost()
        if self._partner is not None:
            for index, address, message in self._partner.poll():  # bypassed there already: bypass this copy too
                track = self.session.tracks[index] if index < len(self.session.tracks) else None
                if track is None:
                    continue
                slot = slot_at(track.chain, address)
                if not slot.bypass:
                    slot.bypass = True
                    bypassed = True
                    new.append(f"track {track.name!r}: {slot.name} raised {message}; it is bypassed from now on")
            if not self._partner.alive and self._partner_names:
                bypassed = True  # rebuild: the partner's tracks come back here
        while self._failed:
            strip, err = self._failed.popleft()
            kind = "track" if any(t.name == strip for t in self.session.tracks) else "bus"
            for slot in err.slots:
                if not slot.bypass:
                    slot.bypass = True
                    bypassed = True
                    new.append(f"{kind} {strip!r}: {slot.name} raised {type(err.error).__name__} ({err.error}); "
                               f"it is bypassed from now on")
        if bypassed:
            self.update()
        new[:0] = self._notices
        self._notices = []
        if self._recorder is not None and self._recorder.error and self._recorder.error not in self.events:
            new.append(self._recorder.error)
        if self._fault and self._fault not in self.events:
            new.append(self._fault)
        if self.midi is not None:
            new += self.midi.poll(self.update, self.update_mix, self._midi_moved)
        if self._writer.passes:
            released = self._writer.tick(self._position, self._loop)
            if released:
                self._end_writes([written.envelope for written in released], glide=True)
        self.events += new
        return new

    # -- state back ---------------------------------------------------------------

    def stats(self) -> EngineStats:
        n = min(self._callbacks, LOAD_HISTORY)
        loads = self._loads[:n].copy() if n else np.zeros(1)  # the callback keeps writing the original
        p50, p99 = (len(loads) - 1) // 2, (len(loads) - 1) * 99 // 100
        loads.partition((p50, p99, len(loads) - 1))  # linear time: the control thread shares the GIL
        period = self.session.block_size / self.session.sample_rate
        phases = self._phases[:n].copy() if n else np.zeros((1, 4))
        partnered = phases[phases[:, 3] > 0.0, 2:]  # the partner's figures: over the blocks it rendered
        phases.partition(p50, axis=0)  # as the loads: linear time, the GIL held briefly
        own, tracks = phases[p50, :2] / period
        wake = render = 0.0
        if len(partnered):
            middle = (len(partnered) - 1) // 2
            partnered.partition(middle, axis=0)
            wake, render = partnered[middle] / period
        state = self._state
        plugins = state.snapshot.latency if state else 0
        return EngineStats(
            running=self._stream is not None and not self._stream_lost() and bool(self._stream.active),
            position=self._position,
            playing=self._playing,
            recording=self._recording,
            xruns=self._xruns,
            callbacks=self._callbacks,
            load_p50=float(loads[p50]),
            load_p99=float(loads[p99]),
            load_max=float(loads[-1]),
            latency_frames=self.io_latency + self.session.block_size + plugins,
            device_latency_frames=self.io_latency,
            plugin_latency_frames=plugins,
            dropped_frames=self._recorder.dropped_frames() if self._recorder else 0,
            fault=self._fault or (self._worker.fault if self._worker else None)
            or (self._recorder.error if self._recorder else None),
            partner_late=self._partner.late if self._partner is not None else 0,
            own_p50=float(own),
            tracks_p50=float(tracks),
            partner_wake_p50=float(wake),
            partner_render_p50=float(render),
        )

    def meters(self, reader: MeterReader | None = None) -> np.ndarray:
        """(tracks + busses + 1, 2 channels, [peak, rms, peak hold, clip]): the tracks
        (:meth:`metered_tracks`), the busses after their faders (:meth:`metered_busses`), the master last.

        Peak is the highest sample since the previous call (every block counts, at
        any calling rate down to once in 3 s), RMS is over the last 300 ms, peak
        hold keeps the highest peak for 2 s, and clip stays 1.0 once a sample
        reached full scale, until :meth:`reset_clips` (see
        :class:`~rackhost.live.meters.MeterReader`). Levels below -120 dBFS
        read 0. A second reader (another view of the same engine) passes its own
        ``reader`` so that neither takes the other's peaks.
        """
        state = self._state
        if state is None:
            return np.zeros((1, 2, len(METER_FIELDS)), np.float32)
        return (reader or self._meter_reader).read(state.levels)

    def watch_spectrum(self, strip: int | BusRow | None | bool) -> None:
        """Fill a spectrum tap with ``strip``'s signal before and after its chain (a session track's index, a
        :class:`BusRow`, None for the master), or with nothing (False): the callback then writes no ring at all."""
        if strip is False:
            self._detach_stage_levels()
            self._spectrum_tap = None
            return
        if isinstance(strip, BusRow):
            if strip.index >= len(self.session.busses):
                raise LiveEngineError(f"no bus {strip.index} to watch in the spectrum view; the session has "
                                      f"{len(self.session.busses)} busses")
        elif strip is not None and not 0 <= strip < len(self.session.tracks):
            raise LiveEngineError(f"no track {strip!r} to watch in the spectrum view; the session has "
                                  f"{len(self.session.tracks)} tracks (None watches the master)")
        self._spectrum_key = strip_key(self.session, strip)
        tap = self._spectrum_tap
        if tap is None or tap.strip != strip:
            if tap is not None:
                self._detach_stage_levels()
            # One assignment: the callback takes it at its next block.
            self._spectrum_tap = SpectrumTap(strip, self.session.block_size)
            self._attach_stage_levels(self._state)

    def _follow_spectrum(self) -> None:
        """Point the spectrum tap at where its strip is now (tracks moved or removed since it was watched); a
        strip gone stops it (the window moves its view on)."""
        tap = self._spectrum_tap
        if tap is None or tap.kind == "master":
            return
        found, where = find_strip(self.session, self._spectrum_key)
        if not found:
            self._detach_stage_levels()
            self._spectrum_tap = None
        elif isinstance(where, BusRow):
            tap.bus = where.index  # one attribute each: the callback reads them once per block
            tap.strip = where
        else:
            tap.strip = where

    def _watched_chain(self, state: LiveState | None) -> Any:
        tap = self._spectrum_tap
        if tap is None or state is None:
            return None
        if tap.kind == "master":
            return state.snapshot.master.chain
        if tap.kind == "bus":
            bus = state.bus_at.get(tap.bus)
            return bus.chain if bus is not None else None
        lane = state.lane_of.get(tap.strip)
        return state.snapshot.tracks[lane].chain if lane is not None else None

    def _attach_stage_levels(self, state: LiveState | None) -> None:
        """Tell the tap which slots each stage of the watched chain (in ``state``) runs, and give a chain of two
        stages or more a ring for its inner stages' outputs, for estimated gain reduction (measured by the
        control thread from the rings: the audio thread only copies)."""
        tap, chain = self._spectrum_tap, self._watched_chain(state)
        if tap is None or chain is None:
            return
        if chain.levels is tap.inner and tap.inner is not None:
            return
        owners = {"master": [self.session.master], "track": self.session.tracks, "bus": self.session.busses}
        index = 0 if tap.kind == "master" else tap.bus if tap.kind == "bus" else tap.strip
        if index >= len(owners[tap.kind]):
            return  # the strip is gone: the window moves the view on
        owner_chain = list(owners[tap.kind][index].chain)
        inner = None
        if len(chain.stages) > 1:  # a rebuilt chain of as many stages goes on filling the same ring
            old = tap.inner
            inner = old if old is not None and old.ring.shape[0] == len(chain.stages) - 1 else StageRing(
                tap, len(chain.stages))
        tap.inner = inner
        tap.stage_slots = tuple(tuple(k for k, item in enumerate(owner_chain) if any(item is s for s in slots))
                                for slots in chain.stage_slots)
        chain.levels = inner  # one assignment: the chain's next run copies its inner stages' outputs

    def _detach_stage_levels(self) -> None:
        chain = self._watched_chain(self._state)
        if chain is not None:
            chain.levels = None

    def stage_reductions(self) -> list[SlotReduction]:
        """The watched chain's gain reduction per stage (control thread): what a keyed slot's plug-in reports
        (minihost passes VST3 output parameters back), else estimated from the stage's input and output levels."""
        tap = self._spectrum_tap
        if tap is None or not tap.stage_slots:
            return []
        reported = self._reported_reductions()
        out = []
        for slots, db in zip(tap.stage_slots, tap.reduction_db()):
            if len(slots) == 1 and slots[0] in reported:
                out.append(SlotReduction(slots, reported[slots[0]], True))
            elif slots and np.isfinite(db):
                out.append(SlotReduction(slots, float(db)))
        return out

    def _reported_reductions(self) -> dict[int, float]:
        """Slot index -> gain reduction in dB, for the watched chain's keyed slots whose plug-in reports one."""
        chain = self._watched_chain(self._state)
        found: dict[int, float] = {}
        for index, stage in getattr(chain, "keys", ()):
            try:
                value = stage.twin.parameter("gain_reduction")
            except RackhostError:  # no such output parameter: the estimate stands
                continue
            if isinstance(value, float):
                found[index] = value
        return found

    @property
    def spectrum_tap(self) -> SpectrumTap | None:
        """The tap the callback fills, or None while no spectrum view watches."""
        return self._spectrum_tap

    def metered_tracks(self) -> tuple[int, ...]:
        """The session track index of each of the first rows of :meth:`meters` (every track, muted ones at zero)."""
        state = self._state
        return tuple(strip.index for strip in state.snapshot.tracks) if state is not None else ()

    def metered_busses(self) -> tuple[str, ...]:
        """The bus of each row of :meth:`meters` after the tracks' (every bus, in session order)."""
        state = self._state
        return state.levels.busses if state is not None else ()

    def reset_clips(self, *strips: int | BusRow | None) -> None:
        """Let the clip lights go: every strip's (no argument), or those named: a track by its session index,
        a bus by a :class:`~rackhost.live.commands.BusRow`, the master by None."""
        if not strips:
            self._meter_reader.reset_clips()
            return
        state = self._state
        if state is None:
            return
        levels = state.levels
        for strip in strips:
            if strip is None:
                row = len(levels.tracks) + len(levels.busses)
            elif isinstance(strip, BusRow):
                name = self.session.busses[strip.index].name if strip.index < len(self.session.busses) else None
                if name not in levels.busses:
                    continue
                row = len(levels.tracks) + levels.busses.index(name)
            elif strip in levels.tracks:
                row = levels.tracks.index(strip)
            else:
                continue  # a track the engine does not run yet (a resync is on its way): nothing lit
            self._meter_reader.reset_clips(row)

    # -- the audio thread -------------------------------------------------------------

    def _prepare(self, takes: tuple[tuple[int, Take], ...]) -> LiveState:
        session = self.session
        block = session.block_size
        snapshot = session.snapshot(max_segment=block, carry=self._carry)
        if snapshot.automation is not None and self._stream is None:
            # Before the stream runs (just after start()'s reset), as a render does: the plug-ins an envelope cuts
            # into pieces are prepared for whole blocks first. A running stream's plug-ins are prepared already.
            snapshot.automation.prime()
        if snapshot.router is not None:  # a bus's plug-in that raises is bypassed like a track's (poll())
            snapshot.router.failures = self._failed
        feeds = []
        for strip in snapshot.tracks:
            track = session.tracks[strip.index]
            if track.input:
                # A partner process's engine opens no stream and never renders an input track: nothing to check.
                if max(track.input) >= self.input_channels and not self.partner_side:
                    raise LiveEngineError(
                        f"track {track.name!r} takes input channel {max(track.input) + 1}, but the device is opened "
                        f"with {self.input_channels} input channels"
                        + ("; choose an input device ('rackhost devices' lists them)" if not self.input_channels else "")
                    )
                feeds.append(Feed(track.input, None, track.channels, block))
            elif track.instrument is not None:  # played from the MIDI inputs, and its MIDI file while playing
                feeds.append(instrument_feed(track, session.sample_rate, block))
            else:
                audio = track.source.audio(session.sample_rate) if track.source is not None else None
                feeds.append(Feed((), audio, track.channels, block))
        if self.midi is not None:
            self.midi.prepare(feeds, session)
        busses = tuple(bus.name for bus in snapshot.router.busses) if snapshot.router is not None else ()
        strips = np.zeros((len(snapshot.tracks) + len(busses) + 1, 2, block), np.float32)
        tracks = tuple(strip.index for strip in snapshot.tracks)
        old = self._state
        if old is not None and (old.levels.tracks, old.levels.busses, old.levels.block) == (tracks, busses, block):
            levels = old.levels  # same rows: readers go on reading the same ring (recording started, a bypass)
        else:
            levels = BlockLevels(tracks, block, session.sample_rate, busses)
        lanes = tuple(zip(feeds, snapshot.tracks, strips[: len(tracks)]))
        inputs: list = [None] * len(snapshot.tracks)
        now = Now()
        render = track_renderer(lanes, inputs, now, self._failed)
        free, last = snapshot.render_order()  # keyed tracks last, each after the tracks it hears
        state = LiveState(
            snapshot,
            tuple(feeds),
            strips,
            lanes,
            np.zeros((2, block), np.float32),
            levels,
            np.zeros_like(strips),
            takes,
            inputs,
            now,
            render,
            free + last,
            Share(len(free), render, free) if len(free) >= SPREAD_MIN_TRACKS else None,
            {strip.index: k for k, strip in enumerate(snapshot.tracks)},
            {bus.row: bus for bus in snapshot.router.busses} if snapshot.router is not None else {},
            last=last,
        )
        self._follow_spectrum()  # before the new state: its lanes are the new order's
        self._attach_stage_levels(state)  # the new chains of a watched strip record their stages too
        self._attach_match_taps(state)
        self._writer.attach(snapshot.automation)  # controls being written stay held in the new curves
        return state

    def _finished(self) -> None:
        self._stream_lost()

    def _stream_lost(self) -> bool:
        """True once the stream stopped on its own (the server died, the device vanished).

        Then the user is told, and PortAudio's dead stream is never touched again
        (closing it can hang). PortAudio does not always call back when a JACK
        server dies, so the stream's ``active`` flag is checked too.
        """
        if self._stream is None or self._closing or self._server_lost:
            return self._server_lost
        if not self._stream.active:
            self._server_lost = True
            if self._fault is None:
                self._fault = "the audio stream stopped (the audio server or device went away); restart the engine"
            from rackhost.live import devices

            devices.server_lost()
        return self._server_lost


def _plugin_instances(session: Session) -> dict[int, Any]:
    """Every pedalboard instance the session's plug-ins hold (A/B's other settings and instruments too), by id."""
    found: dict[int, Any] = {}
    for owner in (*session.tracks, *session.busses, session.master):
        plugins = [slot.plugin for chain in (owner.chain, owner.ab.other) if chain is not None
                   for slot in chain.plugin_slots()]
        instrument = getattr(owner, "instrument", None)
        for plugin in plugins + ([instrument] if instrument is not None else []):
            for instance in plugin.instances:
                found[id(instance)] = instance
    return found


def _break_wrapper_cycle(instance: Any) -> None:
    """Drop an external plug-in's parameter wrappers (which point back at it); built-ins have none."""
    attributes = getattr(instance, "__dict__", None)
    if attributes is not None:
        attributes.pop("__python_parameter_cache__", None)
