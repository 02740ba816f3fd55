"""The block engine: tracks through their chains, panned, summed, through the master chain.

This is the one code path for offline render and live processing. A
:class:`MixSnapshot` is immutable: the live engine swaps a new one in by one
assignment, the offline renderer drives one from files. Work is done in
*segments* of whole blocks: every plug-in processes exactly ``block_size``
frames at a time whatever the segment length (pedalboard's ``buffer_size``),
and the per-sample arithmetic after the chains (gain, pan, sum) gives the same
result for one long segment as for many short ones, so a render and a live run
(where a segment is one block) produce the same samples.

The tracks' stereo outputs are rows of one array, (tracks, 2, frames): faders
and pans are applied to all of them in one multiply and they are summed in one
reduction (numpy adds the rows in track order, so the sum has the same bits as
adding them one by one). That keeps the host's own work per track per block to
the chain call and one copy, however many tracks there are.

A session with busses or sends adds a :class:`Router` to the snapshot: after
the faders it feeds every path of the graph (:mod:`rackhost.chain.routing`)
into the busses, runs the busses in order, and sums what reaches the master.
A session of tracks into the master has no router and pays nothing for it.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from rackhost.chain.automated import Planner, stage_automations
from rackhost.chain.chain import ChainProcessor, StageError
from rackhost.chain.audition import AuditionStage
from rackhost.chain.dsp import DelayCarry, db_to_gain, delay_line, pan_gains

if TYPE_CHECKING:
    from rackhost.chain.automated import Fade, MixAutomation
    from rackhost.chain.sidechain import KeyedStage
    from rackhost.chain.master import MasterBus
    from rackhost.chain.track import Track


def strip_gains(gain_db: float, pan: float, channels: int) -> tuple[float, float]:
    """A track's fader and pan as the left and right gains the mix multiplies its output by.

    ``channels`` is the width of the track's output (after its chain): a mono
    output is panned (constant power), a stereo one, also a mono track widened
    by a stereo plug-in, is balanced.
    """
    left, right = pan_gains(pan, channels)
    gain = db_to_gain(gain_db)
    return left * gain, right * gain


def bounce_gains(gain_db: float, pan: float, channels: int) -> tuple[float, float]:
    """A bounced track's left and right gains: the fader alone on a mono output (no pan law: there is no
    stereo master to pan it on, the file stays mono), fader and balance on a stereo one (0 dB at centre)."""
    if channels == 1:
        gain = db_to_gain(gain_db)
        return gain, gain
    return strip_gains(gain_db, pan, channels)


def bounced(snap: MixSnapshot, track: Track, master: MasterBus) -> MixSnapshot:
    """``snap``, the snapshot of a session holding only ``track``, as a bounce of that track to a file.

    An engineer bouncing one file through a chain expects the file back as the
    chain makes it, not as a mono track sounds on a stereo master (3 dB down,
    the pan law at centre). So the track's chain and the master's run as one
    serial path: the file stays mono until a stereo-only plug-in in either
    widens it (unless the track keeps mono), the fader and the master gain
    apply, and the pan only once the track is stereo, as a balance (0 dB at
    centre). A mono file through mono-capable plug-ins comes out as pedalboard
    makes it, sample for sample.
    """
    if snap.router is not None:
        raise ValueError("a track bounce has no busses or sends: it is one file through its chain and the master's")
    (strip,) = snap.tracks
    notes = list(snap.notes)
    chain = snap.master.chain
    automation = snap.automation
    if strip.width == 1:  # the stereo master of the snapshot would widen it: run the master chain in mono
        sr, keep_mono = snap.sample_rate, track.keep_mono
        notes = [n for n in notes if not n.startswith("master: ")]  # those were for a stereo master
        notes += [f"master: {n}" for n in master.chain.configure(1, sr, keep_mono)]
        plan = Planner(sr, snap.block_size, snap.max_segment)
        chain = master.chain.processor(1, sr, snap.block_size, snap.max_segment, keep_mono, plan.slots(master))
        chain = plan.chain(master, chain, strip.chain.latency, 1)
        if automation is not None:  # the stereo master's envelopes give way to the mono one's
            stereo = {id(stage) for stage in stage_automations(snap.master.chain)}
            automation.stages = [s for s in automation.stages if id(s) not in stereo] + plan.mix.stages
        elif plan.mix:
            automation = plan.mix
        if track.pan != 0.0:
            notes.append(f"track {track.name!r}: pan {track.pan:+g} has no effect on a bounced mono file (there "
                         f"is no stereo master to pan it on); it works as a balance once a stereo-only plug-in "
                         f"in the track's chain widens the file")
    gain_db = track.gain_db if snap.audible[0] else -math.inf
    gains = np.array(bounce_gains(gain_db, track.pan, strip.width), np.float32).reshape(1, 2, 1)
    if automation is not None:
        for fade in automation.tracks.values():
            fade.law = "bounce"
    return replace(
        snap, master=MasterStrip(chain, master.gain_db, strip.width, snap.master.fade), gains=gains,
        notes=tuple(notes), automation=automation,
        latency=snap.latency - snap.master.chain.latency + chain.latency,
    )


class TrackStrip:
    """A track as the audio path runs it: its chain and delay compensation (fader and pan are the snapshot's).

    ``channels`` is the width of its input, ``width`` that of its chain's output
    (2 where a stereo-only plug-in widened a mono track).
    """

    __slots__ = ("name", "index", "channels", "width", "chain", "compensation", "processed", "_delay", "audition",
                 "output", "keys", "key_gains", "wait", "_wait")

    def __init__(
        self, name: str, index: int, channels: int, chain: ChainProcessor, compensation: int, max_segment: int,
        audition: AuditionStage | None = None, wait: int = 0, carry: DelayCarry | None = None,
    ):
        self.name = name
        self.index = index
        self.channels = channels
        self.width = chain.channels or channels
        self.chain = chain
        self.compensation = compensation
        # After the chain, so as wide as its output.
        self._delay = delay_line(carry, ("track out", name), self.width, compensation, max_segment)
        # Before the chain: a keyed track's input waits for a key later than it (routing.Graph.arrivals).
        self.wait = wait
        self._wait = delay_line(carry, ("track wait", name), channels, wait, max_segment)
        self.processed: np.ndarray | None = None
        self.output: np.ndarray | None = None  # the row it rendered into last: what a track keyed by it hears
        # Bypass-compare, matching and delta (rackhost.chain.audition); None: the chain as it is.
        self.audition = audition
        # A keyed track's keys: (tap, the track it hears, rendered first), and a one-item list holding the keys'
        # gains (the router's, swapped there by one assignment when a fader moves).
        self.keys: tuple[tuple[KeyTap, TrackStrip], ...] = ()
        self.key_gains: list[np.ndarray] = []

    def render(self, source: np.ndarray, out: np.ndarray, position: int = 0) -> None:
        """Process ``source`` (channels, n), n a multiple of the block size, into ``out`` (2, n), before the fader.

        ``position``: the transport frame of the first sample, which the chain's envelopes follow.

        The chain gets the whole segment in one call; pedalboard runs its
        plug-ins on it ``block_size`` frames at a time with state kept, exactly
        as if each block were handed over separately (a test proves it). A mono
        output goes to both rows of ``out``; :meth:`MixSnapshot.mix_tracks`
        applies fader and pan to every track at once.
        """
        self.output = out  # set first: a chain that raises leaves the row silenced by the caller, still heard
        if self._wait is not None:
            source = self._wait(source)
        for tap, heard in self.keys:  # the heard tracks rendered already, into their rows of this segment
            tap.feed(heard.output, self.key_gains[0])  # type: ignore[arg-type]
        processed = self.chain.run(source, position) if self.chain.stages else source
        self.processed = processed  # the chain's output, before delay compensation and fader (recorded as "wet")
        audition = self.audition
        if audition is not None and audition.needed:
            processed = audition(source, processed)
        if self._delay is not None:
            processed = self._delay(processed)
        out[...] = processed


class MasterStrip:
    """The master chain and gain, applied to the sum of the tracks.

    ``channels`` is the width the master runs at: 2 in a mix, or a bounced
    mono file's 1 (it then reads the first row of the sum and writes the first
    row of ``out``). :attr:`width` is that of its output.
    """

    __slots__ = ("chain", "channels", "width", "_gain", "fade", "processed", "audition")

    def __init__(self, chain: ChainProcessor, gain_db: float, channels: int = 2, fade: Fade | None = None,
                 audition: AuditionStage | None = None):
        self.processed: np.ndarray | None = None  # the chain's output, before the master's gain (a spectrum's "post")
        self.chain = chain
        self.channels = channels
        self.width = chain.channels or channels
        self._gain = np.float32(db_to_gain(gain_db))
        self.fade = fade  # the master's gain envelope, if it has one
        self.audition = audition  # bypass-compare, matching and delta, before the master's gain; None: none

    def render(self, mix: np.ndarray, out: np.ndarray, position: int = 0) -> None:
        if self.channels < mix.shape[0]:
            mix = mix[: self.channels]
        processed = self.chain.run(mix, position) if self.chain.stages else mix
        self.processed = processed
        audition = self.audition
        if audition is not None and audition.needed:
            processed = audition(mix, processed)
        if self.width < out.shape[0]:
            out = out[: self.width]
        if self.fade is not None:
            np.multiply(processed, self.fade.gains(position, processed.shape[1])[: self.width], out=out)
        elif self._gain != 1.0:
            np.multiply(processed, self._gain, out=out)
        else:
            out[:] = processed


@dataclass(frozen=True)
class MixSnapshot:
    """Everything the audio path needs for one session state. Never mutated; replaced whole.

    Every track of the session has a strip, muted or not: a mute or a solo is a
    gain of zero, so the chains keep running (a take goes on recording, a
    reverb's state stays current) and the delay compensation, which follows
    the slowest track, does not move when a track is muted.
    """

    tracks: tuple[TrackStrip, ...]
    master: MasterStrip
    sample_rate: float
    block_size: int
    max_segment: int
    latency: int
    gains: np.ndarray = field(repr=False)  # (tracks, 2, 1): each track's left and right gain (fader, pan, mute)
    audible: tuple[bool, ...] = ()  # per track: it reaches the master (not muted, not silenced by a solo)
    notes: tuple[str, ...] = ()
    router: Router | None = None  # busses and sends, if the session has any
    automation: MixAutomation | None = None  # envelopes on faders, pans, mutes, sends; None: nothing automated
    # The tracks with a keyed slot, in the order they render, after every other track and on one thread (each
    # after the tracks it hears), and the tracks they hear (these must render in the same process).
    keyed_tracks: tuple[int, ...] = ()
    key_sources: frozenset[int] = frozenset()
    unity: bool = field(init=False, repr=False)  # every gain is 1.0: the multiply is skipped
    applied: np.ndarray = field(init=False, repr=False)  # gains with 1.0 where an envelope sets a track's gains

    def __post_init__(self) -> None:
        applied = self.gains
        if self.automation is not None and self.automation.tracks:
            applied = self.gains.copy()
            applied[list(self.automation.tracks)] = 1.0
        object.__setattr__(self, "applied", applied)
        object.__setattr__(self, "unity", bool(np.all(applied == 1.0)))

    def remixed(self, gains: np.ndarray, audible: tuple[bool, ...], master_gain_db: float,
                router: Router | None = None) -> MixSnapshot:
        """The same strips and chains with new faders, pans, mutes and solos, and master gain (made in microseconds).

        ``router``: the snapshot's router with new send levels and bus faders (:meth:`Router.regained`).
        """
        if gains.shape != self.gains.shape:
            raise ValueError(f"gains for {gains.shape[0]} tracks, but the snapshot has {len(self.tracks)}")
        master = MasterStrip(self.master.chain, master_gain_db, self.master.channels, self.master.fade,
                             self.master.audition)
        return replace(self, gains=gains, audible=audible, master=master, router=router or self.router)

    def render_order(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The tracks in two groups: those that may render in any order, on any thread, and then the tracks
        keyed by tracks, in this order, after the first group is done. A track keyed by a bus is in neither:
        :meth:`mix_tracks` renders it among the busses."""
        late = {row for row, _ in self.router.late} if self.router is not None else set()
        last = set(self.keyed_tracks) | late
        return tuple(k for k in range(len(self.tracks)) if k not in last), self.keyed_tracks

    def mix_tracks(self, strips: np.ndarray, out: np.ndarray, position: int = 0,
                   render: Callable[[int], None] | None = None) -> np.ndarray:
        """Apply fader and pan to the tracks' outputs ``strips`` (tracks, 2, n) in place, and sum them into ``out``.

        The rows are added in track order (so always the same bits, whatever
        the segment length or the threads that rendered them). Returns ``out``.
        ``position``: the transport frame of the first sample, for envelopes.
        ``render(row)``: renders a track keyed by a bus, which the router runs among the busses
        (:meth:`render_order` leaves them out).
        """
        if self.router is not None:
            return self.router.mix(strips, self.applied, self.unity, out, position, self.automation, render)
        if not self.tracks:
            out[...] = 0.0
            return out
        if not self.unity:
            np.multiply(strips, self.applied, out=strips)
        if self.automation is not None:
            fade_tracks(strips, self.automation, position)
        np.sum(strips, axis=0, out=out)
        return out


def fade_tracks(strips: np.ndarray, automation: MixAutomation, position: int) -> None:
    """Multiply the automated tracks' rows of ``strips`` by their gains per sample."""
    n = strips.shape[2]
    for row, fade in automation.tracks.items():
        np.multiply(strips[row], fade.gains(position, n), out=strips[row])


class BusStrip:
    """A bus as the audio path runs it: its chain on the sum of what feeds it, then its paths onwards."""

    __slots__ = ("name", "row", "chain", "pre", "post", "keys", "processed", "audition")

    def __init__(self, name: str, row: int, chain: ChainProcessor, audition: AuditionStage | None = None):
        self.name = name
        self.row = row  # the bus's place in the session's busses: its rows in the router's buffers
        self.chain = chain
        self.audition = audition  # bypass-compare, matching and delta, before its sends and fader; None: none
        self.pre: tuple[RouteEdge, ...] = ()  # its pre-fader sends
        self.post: tuple[RouteEdge, ...] = ()  # its output and post-fader sends
        self.keys: tuple[KeyTap, ...] = ()  # the keys it gives keyed slots elsewhere
        self.processed: np.ndarray | None = None  # its chain's output this block, before its fader (a spectrum's)


class KeyTap:
    """A key at run time: taken from a track's or bus's output (before its fader; the tap's own gain is the
    fader and pan for a post-fader key), delayed, and written into a keyed slot's stage before it runs."""

    __slots__ = ("source", "bus", "gain", "stage", "delay")

    def __init__(self, source: int, bus: bool, gain: int, stage: KeyedStage, delay: int, max_segment: int,
                 carry: DelayCarry | None = None, path: tuple = ()):
        self.source = source  # a track's row of the strips, or a bus's row
        self.bus = bus
        self.gain = gain  # index into Router.key_gains
        self.stage = stage
        self.delay = delay_line(carry, ("key", *path), 2, delay, max_segment)

    def feed(self, signal: np.ndarray, gains: np.ndarray) -> None:
        if self.delay is not None:
            signal = self.delay(signal)
        n = signal.shape[1]
        np.multiply(signal, gains[self.gain], out=self.stage.key[:, :n])


class RouteEdge:
    """One path between strips at run time: where it goes, its gain's place, and its compensating delay."""

    __slots__ = ("source", "dest", "gain", "delay", "fade")

    def __init__(self, source: int, dest: int, gain: int, delay: int, max_segment: int, fade: Fade | None = None,
                 carry: DelayCarry | None = None, path: tuple = ()):
        self.source = source  # a track's row of the strips, or a bus's row
        self.dest = dest  # a bus's row, or -1: the master
        self.gain = gain  # index into Router.edge_gains
        self.delay = delay_line(carry, ("edge", *path), 2, delay, max_segment)
        self.fade = fade  # a send level's envelope: gains per sample instead of edge_gains


class Router:
    """The routed part of a snapshot: every path, the busses in run order, and buffers made once.

    Per segment (:meth:`mix`): the tracks' pre-fader sends are taken, the track
    faders applied, their outputs and post-fader sends added into the busses'
    inputs or the master, then each bus runs (after everything feeding it) and
    feeds on the same way. The sums are made in one fixed order, and every step
    is per sample, so any segment length gives the same bits. Gains live in two
    arrays :meth:`regained` replaces, so a fader or a send level is swapped in
    without touching a chain or a delay line.
    """

    def __init__(self, busses: tuple[BusStrip, ...], run_order: tuple[int, ...], edges: tuple[RouteEdge, ...],
                 sources: tuple[int | None, ...], pre: tuple[bool, ...], edge_gains: np.ndarray,
                 bus_gains: np.ndarray, structure: tuple, max_segment: int, keys: tuple[KeyTap, ...] = (),
                 key_gains: np.ndarray | None = None, key_cell: list[np.ndarray] | None = None,
                 late: tuple[tuple[int, int], ...] = ()):
        """``sources``: per edge, the bus row it leaves (None: a track); ``pre``: per edge, before the fader.

        ``keys``: the taps feeding keyed slots on busses, the master and tracks keyed by a bus, ``key_gains``
        (keys, 2, 1) the gains of every key, those of tracks keyed by tracks too, which read them from
        ``key_cell`` (:attr:`TrackStrip.key_gains`).

        ``late``: (track row, place in the run order) of each track keyed by a bus, in the order they run: the
        router renders it (:meth:`mix`'s ``render``) before the bus at that place, after the bus keying it.
        """
        self.busses = busses  # in session order
        self.edges = edges  # in the graph's order: each strip's output edge, then its sends (stems read it)
        self.edge_sources = sources
        self.run = tuple(busses[j] for j in run_order)
        self.structure = structure
        self.edge_gains = edge_gains  # (edges,) float32: send level, 0 where the path is silent
        self.bus_gains = bus_gains  # (busses, 2, 1) float32: fader and balance, 0 where it is silent
        self.key_gains = key_gains if key_gains is not None else np.zeros((0, 2, 1), np.float32)
        self.key_cell = key_cell if key_cell is not None else [self.key_gains]
        self.late = late
        rows = {row for row, _ in late}
        self.track_keys = tuple(k for k in keys if not k.bus and k.source not in rows)
        # A late track's own keys and paths, taken once it has rendered.
        own = [(e, p) for e, b, p in zip(edges, sources, pre) if b is None]
        self.late_paths = {row: (tuple(k for k in keys if not k.bus and k.source == row),
                                 tuple(e for e, p in own if e.source == row and p),
                                 tuple(e for e, p in own if e.source == row and not p)) for row in rows}
        for bus in busses:
            bus.keys = tuple(k for k in keys if k.bus and k.source == bus.row)
        self.track_pre = tuple(e for e, b, p in zip(edges, sources, pre) if b is None and p and e.source not in rows)
        post = [e for e, b, p in zip(edges, sources, pre) if b is None and not p and e.source not in rows]
        # An automated send is fed on its own, with its gains per sample.
        # Undelayed track outputs and sends into one place are summed as the plain mix sums tracks: gathered,
        # scaled and reduced in three numpy calls, not two per path (32 tracks into 4 busses: 12, not 64).
        grouped = [e for e in post if e.delay is None and e.fade is None]
        dests = sorted({e.dest for e in grouped})
        self.groups = tuple(
            (d, np.array([e.source for e in grouped if e.dest == d], np.intp),
             np.array([e.gain for e in grouped if e.dest == d], np.intp))
            for d in dests
        )
        self.group_gains = self._group_gains(edge_gains)
        self.track_post = tuple(e for e in post if e.delay is not None or e.fade is not None)
        for bus in busses:
            bus.pre = tuple(e for e, b, p in zip(edges, sources, pre) if b == bus.row and p)
            bus.post = tuple(e for e, b, p in zip(edges, sources, pre) if b == bus.row and not p)
        self.inputs = np.zeros((len(busses), 2, max_segment), np.float32)
        self.outputs = np.zeros((len(busses), 2, max_segment), np.float32)
        self._scaled = np.zeros((2, max_segment), np.float32)
        self._gathered = np.zeros((max((len(rows) for _, rows, _ in self.groups), default=0), 2, max_segment),
                                  np.float32)
        # Where a bus's plug-in that raised is reported, live ((bus name, StageError)); offline it raises.
        self.failures: deque | None = None

    def regained(self, edge_gains: np.ndarray, bus_gains: np.ndarray, key_gains: np.ndarray | None = None) -> Router:
        """The same router (chains, delay lines, buffers) with new gains."""
        key_gains = self.key_gains if key_gains is None else key_gains
        if edge_gains.shape != self.edge_gains.shape or bus_gains.shape != self.bus_gains.shape \
                or key_gains.shape != self.key_gains.shape:
            raise ValueError("new gains for a different graph: make a new snapshot")
        twin = copy.copy(self)
        twin.edge_gains, twin.bus_gains, twin.key_gains = edge_gains, bus_gains, key_gains
        twin.key_cell[0] = key_gains  # one assignment: the keyed tracks hear the new gains from the next segment
        twin.group_gains = twin._group_gains(edge_gains)
        return twin

    def _group_gains(self, edge_gains: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.ascontiguousarray(edge_gains[gains].reshape(-1, 1, 1)) for _, _, gains in self.groups)

    def mix(self, strips: np.ndarray, gains: np.ndarray, unity: bool, out: np.ndarray, position: int = 0,
            automation: MixAutomation | None = None, render: Callable[[int], None] | None = None) -> np.ndarray:
        """``strips`` (tracks, 2, n) pre-fader in, post-fader out (in place); the master's input into ``out``.

        ``render(row)``: renders a track keyed by a bus into its row of ``strips``, when that bus has run
        (:attr:`late`); the rows of the other tracks are rendered before this is called.
        """
        if self.late and render is None:
            raise ValueError("a track keyed by a bus renders among the busses: give mix a render(row)")
        n = out.shape[1]
        inputs = self.inputs[:, :, :n]
        inputs.fill(0.0)
        out.fill(0.0)
        key_gains = self.key_gains
        for k in self.track_keys:
            k.feed(strips[k.source], key_gains)
        for e in self.track_pre:
            self._feed(e, strips[e.source], inputs, out, position)
        if not unity:
            np.multiply(strips, gains, out=strips)
        if automation is not None:
            fade_tracks(strips, automation, position)
        part = self._scaled[:, :n]
        for (dest, rows, _), group_gain in zip(self.groups, self.group_gains):
            gathered = self._gathered[: len(rows), :, :n]
            np.take(strips, rows, axis=0, out=gathered, mode="clip")
            np.multiply(gathered, group_gain, out=gathered)
            np.sum(gathered, axis=0, out=part)
            target = out if dest < 0 else inputs[dest]
            np.add(target, part, out=target)
        for e in self.track_post:
            self._feed(e, strips[e.source], inputs, out, position)
        bus_gains = self.bus_gains
        bus_fades = automation.busses if automation is not None else {}
        late = self.late
        waiting = 0  # the next late track
        for place, bus in enumerate(self.run):
            while waiting < len(late) and late[waiting][1] == place:
                self._late_track(late[waiting][0], strips, gains, unity, inputs, out, position, automation, render)
                waiting += 1
            row = bus.row
            fed = inputs[row]
            try:
                processed = bus.chain.run(fed, position) if bus.chain.stages else fed
            except StageError as err:
                if self.failures is None:
                    raise
                self.failures.append((bus.name, err))  # silent until the engine bypasses the slot
                fed.fill(0.0)
                processed = fed
            bus.processed = processed
            audition = bus.audition
            if audition is not None and audition.needed:  # what it plays is what it feeds on, as on a track
                processed = audition(fed, processed)
            for k in bus.keys:
                k.feed(processed, key_gains)
            for e in bus.pre:
                self._feed(e, processed, inputs, out, position)
            faded = self.outputs[row, :, :n]
            fade = bus_fades.get(row)
            np.multiply(processed, bus_gains[row] if fade is None else fade.gains(position, n), out=faded)
            for e in bus.post:
                self._feed(e, faded, inputs, out, position)
        for row, _ in late[waiting:]:  # after every bus: they feed the master alone
            self._late_track(row, strips, gains, unity, inputs, out, position, automation, render)
        return out

    def _late_track(self, row: int, strips: np.ndarray, gains: np.ndarray, unity: bool, inputs: np.ndarray,
                    out: np.ndarray, position: int, automation: MixAutomation | None, render: Callable) -> None:
        """Render a track keyed by a bus (whose key the bus wrote as it ran) and feed its paths on."""
        render(row)
        signal = strips[row]  # pre-fader (the fader applied above to the whole array met last segment's row)
        keys, pre, post = self.late_paths[row]
        for k in keys:
            k.feed(signal, self.key_gains)
        for e in pre:
            self._feed(e, signal, inputs, out, position)
        if not unity:
            np.multiply(signal, gains[row], out=signal)
        fade = automation.tracks.get(row) if automation is not None else None
        if fade is not None:
            np.multiply(signal, fade.gains(position, signal.shape[1]), out=signal)
        for e in post:
            self._feed(e, signal, inputs, out, position)

    def _feed(self, e: RouteEdge, signal: np.ndarray, inputs: np.ndarray, out: np.ndarray, position: int) -> None:
        if e.delay is not None:
            signal = e.delay(signal)  # run even when silent, so the line holds what was sent before
        if e.fade is not None:
            scaled = self._scaled[:, : signal.shape[1]]
            np.multiply(signal, e.fade.gains(position, signal.shape[1]), out=scaled)
            dest = out if e.dest < 0 else inputs[e.dest]
            np.add(dest, scaled, out=dest)
            return
        gain = self.edge_gains[e.gain]
        if gain == 0.0:
            return
        if gain != 1.0:
            scaled = self._scaled[:, : signal.shape[1]]
            np.multiply(signal, gain, out=scaled)
            signal = scaled
        dest = out if e.dest < 0 else inputs[e.dest]
        np.add(dest, signal, out=dest)
