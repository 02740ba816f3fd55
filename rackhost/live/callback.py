"""The audio callback of the live engine, and everything it runs each block.

REAL-TIME RULES. The callback (:meth:`AudioCallback._callback`) runs on the
audio device's thread, against a deadline of one block (2.7 ms at 128 frames
and 48 kHz). It and every function it calls, all in this module or named
here, follow these rules:

* it never touches the disk, never takes a lock, never logs;
* it allocates only what numpy slicing and pedalboard's own calls do;
* it catches every exception: the block is silenced and the fault reported;
* structural changes arrive as a new, fully prepared :class:`LiveState`
  swapped in by one assignment; parameter changes arrive through a deque
  (``append``/``popleft`` are atomic in CPython) drained at block start;
* recorded audio leaves through ring buffers to a writer thread.

The mixing itself is :mod:`rackhost.chain.mixer`, the code the offline
renderer runs, so the same session at the same block size gives the same
samples live and offline.

What runs per block: :meth:`AudioCallback._callback` (parameter queue, MIDI,
load accounting) -> :meth:`AudioCallback._process` (transport, the tracks,
on one or two audio threads or with the partner process: :func:`track_renderer`, :mod:`.spread`,
:mod:`.partner`) -> the
master (:class:`rackhost.chain.mixer.MixSnapshot`) -> :func:`meter` -> the
recorder's rings (:mod:`.recorder`), and while a spectrum view watches a strip,
copies of its blocks into the tap's ring (:mod:`.spectrum_tap`: copies only,
measured on the control thread). Everything else in the live engine runs
on the control thread (:mod:`.engine`) or in the engine process's (:mod:`.process`).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rackhost.chain.chain import StageError
from rackhost.chain.mixer import MixSnapshot, TrackStrip
from rackhost.live.meters import BlockLevels
from rackhost.live.recorder import Ring, Take
from rackhost.live.spectrum_tap import SpectrumTap
from rackhost.live.spread import Share, TrackWorker

LOAD_HISTORY = 4096  # callbacks kept for load percentiles (~11 s at 128 frames)


class Feed:
    """Where a strip's input comes from each block: device channels, or a file at the transport position."""

    __slots__ = ("channels", "source", "buffer")

    def __init__(self, channels: tuple[int, ...], source: np.ndarray | None, width: int, block: int):
        self.channels = channels
        self.source = source
        self.buffer = np.zeros((width, block), np.float32)

    def read(self, indata: np.ndarray, position: int, playing: bool) -> np.ndarray:
        buf = self.buffer
        if self.channels:
            for i, ch in enumerate(self.channels):
                buf[i] = indata[:, ch]
            return buf
        source = self.source
        n = buf.shape[1]
        if not playing or source is None or position >= source.shape[1]:
            buf[:] = 0.0
            return buf
        if position + n <= source.shape[1]:
            return source[:, position : position + n]
        available = source.shape[1] - position
        buf[:, :available] = source[:, position:]
        buf[:, available:] = 0.0
        return buf


class Now:
    """What changes every block: the device's input and the transport. Set by the callback before any track runs."""

    __slots__ = ("indata", "position", "playing")

    def __init__(self) -> None:
        self.indata: np.ndarray | None = None
        self.position = 0
        self.playing = False


def track_renderer(
    lanes: tuple[tuple[Feed, TrackStrip, np.ndarray], ...], inputs: list, now: Now, failed: collections.deque
) -> Callable[[int], None]:
    """render(k): read track k's input and run its strip into its row; made once per audio state."""

    def render(k: int) -> None:
        feed, strip, out = lanes[k]
        source = feed.read(now.indata, now.position, now.playing)
        inputs[k] = source
        try:
            strip.render(source, out, now.position)
        except StageError as err:
            # This track is silent until the control thread bypasses the slot (see poll()).
            out.fill(0.0)
            failed.append((strip.name, err))

    return render


@dataclass(frozen=True)
class LiveState:
    """Everything the callback needs, prepared off the audio thread, swapped in whole."""

    snapshot: MixSnapshot
    feeds: tuple[Feed, ...]
    # (tracks + busses + 1, 2, block): each track's output, each bus's (after its fader), then the master's:
    # metered in one pass
    strips: np.ndarray
    lanes: tuple[tuple[Feed, TrackStrip, np.ndarray], ...]  # per track: its feed, its strip, its row of strips
    mix: np.ndarray
    # each block's peak and sum of squares per strip and channel, the master last; readers follow it (meters())
    levels: BlockLevels
    scratch: np.ndarray  # like strips: the meters' working space
    takes: tuple[tuple[int, Take], ...]  # (strip index, take) while recording
    inputs: list  # each strip's input this block, kept for the recorder (a list made once, not per block)
    now: Now  # this block's input and transport, set by the callback, read by render
    render: Callable[[int], None]  # render(k): track k into its row, on whichever audio thread took it
    numbers: tuple[int, ...]  # 0 .. tracks - 1, made once
    share: Share | None  # the tracks shared with the second audio thread, where there are enough of them
    lane_of: dict[int, int]  # session track index -> its lane (and row of strips), for the spectrum tap
    bus_at: dict[int, Any]  # session bus index -> its BusStrip in the router, for the spectrum tap
    # The tracks the partner process renders (rackhost.live.partner), and own(): the callback's share meanwhile.
    partner: Any = None
    own: Callable[[], None] | None = None
    # The keyed tracks: rendered by the callback after the share, in this order (MixSnapshot.render_order).
    last: tuple[int, ...] = ()

    @property
    def tracks_out(self) -> np.ndarray:
        return self.strips[: len(self.lanes)]

    @property
    def busses_out(self) -> np.ndarray:
        return self.strips[len(self.lanes) : -1]

    @property
    def master_out(self) -> np.ndarray:
        return self.strips[-1]


class AudioCallback:
    """The audio side of :class:`~rackhost.live.engine.LiveEngine`: the callbacks a stream calls.

    The attributes below belong to the engine; the control thread sets them,
    the callback reads them (and writes only its own counters and the transport).
    """

    session: Any
    midi: Any
    audio_thread_id: int
    _state: LiveState | None
    _params: collections.deque
    _locates: collections.deque
    _playing: bool
    _position: int
    _loop: tuple[int, int] | None
    _worker: TrackWorker | None
    _master_ring: Ring
    _spectrum_tap: SpectrumTap | None  # the strip a spectrum view watches; None: no view, no cost
    _no_input: np.ndarray
    _loads: np.ndarray
    # Per callback, seconds: from its start until [0] its own tracks were rendered, [1] every track was (the
    # partner's or the second thread's too); and the partner's [2] wake-up and [3] render time: where the time
    # goes, live (EngineStats.own_p50 ...).
    _phases: np.ndarray
    _started: float
    _callbacks: int
    _xruns: int
    _fault: str | None
    _wake_wanted: bool
    _wake_write: int

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._started = started = time.perf_counter()
        try:
            if not self.audio_thread_id:
                self.audio_thread_id = threading.get_native_id()
            if status.input_overflow or status.output_underflow:
                self._xruns += 1
            state = self._state
            params = self._params
            while params:
                instances, name, value = params.popleft()
                for instance in instances:
                    setattr(instance, name, value)
            midi = self.midi
            if midi is not None:  # mapped controllers, notes for instrument tracks
                midi.block_start(frames, self.session.sample_rate)
            if state is None or frames != state.mix.shape[1]:
                outdata.fill(0.0)
            else:
                self._process(state, indata, outdata)
        except Exception as err:  # noqa: BLE001 - nothing may escape the audio callback
            outdata.fill(0.0)
            if self._fault is None:
                self._fault = f"{type(err).__name__}: {err}"
        finally:
            period = frames / self.session.sample_rate
            self._loads[self._callbacks % LOAD_HISTORY] = (time.perf_counter() - started) / period
            self._callbacks += 1
            if self._wake_wanted:  # the control thread waits for the end of this block (after_block)
                self._wake_wanted = False
                try:
                    os.write(self._wake_write, b"1")
                except OSError:  # the pipe is full: the control thread will wake anyway
                    pass

    def _output_callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._callback(self._no_input, outdata, frames, time_info, status)

    def _process(self, state: LiveState, indata: np.ndarray, outdata: np.ndarray) -> None:
        playing = self._playing
        position = self._position
        locates = self._locates
        while locates:
            position = locates.popleft()
        snapshot = state.snapshot
        inputs = state.inputs
        now = state.now
        now.indata = indata
        now.position = position
        now.playing = playing
        worker = self._worker
        share = state.share
        partner = state.partner
        phases = self._phases[self._callbacks % LOAD_HISTORY]
        if partner is not None:  # the partner renders its tracks on the other core while this thread does the rest
            if not partner.run(position, playing, state.strips, state.own, self._started, phases):
                self._xruns += 1  # its tracks missed this block
        elif worker is not None and share is not None:
            share.open()
            worker.hand(share)
            share.work()
            render = state.render
            for k in state.last:  # a keyed track hears tracks the share rendered: after it, on this thread
                render(k)
        else:
            render = state.render
            for k in state.numbers:
                render(k)
        phases[1] = time.perf_counter() - self._started
        if partner is None:
            phases[0] = phases[1]
            phases[2] = phases[3] = 0.0  # no partner rendered this block
        tap = self._spectrum_tap  # a watched track is tapped here: mix_tracks applies the faders in place
        if tap is not None and tap.kind == "track":
            lane = state.lane_of.get(tap.strip)
            if lane is not None:
                source = inputs[lane]
                if source is not None:  # rendered here: its chain's input and output
                    processed = snapshot.tracks[lane].processed
                    if processed is not None:
                        tap.write(source, processed)
                elif partner is not None:  # a partner's track: its file, read here too, and the row it sent
                    tap.write(state.feeds[lane].read(indata, position, playing), state.strips[lane])
        master_out = state.master_out
        mix = snapshot.mix_tracks(state.tracks_out, state.mix, position, state.render)  # it renders bus-keyed tracks
        now.indata = None  # the device's buffer is only lent for this callback
        snapshot.master.render(mix, master_out, position)
        router = snapshot.router
        if router is not None:  # each bus after its fader, beside the tracks for the meters
            np.copyto(state.busses_out, router.outputs)
        levels = state.levels  # every track and bus (after its fader) and the master, one row per block
        count = levels.count
        row = count % levels.size
        meter(state.strips, levels.blocks[row], state.scratch)
        levels.positions[row] = position
        levels.count = count + 1  # last: a reader takes this block only once it is whole
        outdata[:, :2] = master_out.T
        self._master_ring.push(master_out)
        self._master_ring.read = self._master_ring.written  # a window, never drained: keep it from filling
        if tap is not None:
            if tap.kind == "master":
                tap.write(mix, snapshot.master.processed)  # the chain's output: the master's fader is no part of it
            elif tap.kind == "bus" and router is not None:
                bus = state.bus_at.get(tap.bus)
                if bus is not None and bus.processed is not None:
                    tap.write(router.inputs[bus.row, :, : bus.processed.shape[1]], bus.processed)
        for k, take in state.takes:
            take.dry.push(inputs[k])
            take.wet.push(snapshot.tracks[k].processed)
        if playing:
            position += state.mix.shape[1]
            loop = self._loop
            if loop is not None and position >= loop[1]:
                position = loop[0]
        self._position = position  # stopped too: a locate while stopped (a click on the ruler, Home) holds


def meter(blocks: np.ndarray, rows: np.ndarray, scratch: np.ndarray) -> None:
    """Peak and sum of squares of every strip's block, in three numpy calls.

    ``blocks`` (strips, 2, n), ``rows`` (strips, 2, [peak, sum of squares]), ``scratch`` like
    ``blocks``. The cost hardly depends on the number of strips; what can wait (the peak since a
    reader's last look, RMS over a window, hold, clip) is done by the reader (meters.MeterReader).
    """
    np.abs(blocks, out=scratch)
    np.max(scratch, axis=2, out=rows[:, :, 0])
    np.einsum("sck,sck->sc", blocks, blocks, out=rows[:, :, 1])
