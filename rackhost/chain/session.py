"""A session: tracks, busses, a master bus, a sample rate and a block size.

A session does not render: :func:`rackhost.chain.render.render` takes one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from rackhost.chain import routing
from rackhost.chain.audition import Auditioned
from rackhost.chain.automated import Planner, stage_automations
from rackhost.chain.automation_write import GLIDE_SECONDS, check_glide
from rackhost.chain.bus import Bus, check_bus_name
from rackhost.chain.chain import Chain, ChainProcessor, delayed
from rackhost.chain.colors import default_color
from rackhost.chain.dsp import DelayCarry, db_to_gain
from rackhost.chain.history import Editor, History, SwapContents, keyed_slots
from rackhost.chain.master import MasterBus
from rackhost.chain.midi.mapping import MidiMap
from rackhost.chain.mixer import (BusStrip, KeyTap, MasterStrip, MixSnapshot, RouteEdge, Router, TrackStrip,
                                  strip_gains)
from rackhost.chain.plugin import Plugin
from rackhost.chain.source import ArraySource, AudioFileSource
from rackhost.chain.track import Track
from rackhost.errors import RoutingError, SessionError, TrackBounceError

DEFAULT_SAMPLE_RATE = 48000
DEFAULT_BLOCK_SIZE = 512


@dataclass(frozen=True)
class LoopRange:
    """The loop range in seconds, and whether playback loops over it (the range stays when looping is off)."""

    start: float
    end: float
    on: bool = True

    def __post_init__(self) -> None:
        start, end = float(self.start), float(self.end)
        if not (math.isfinite(start) and math.isfinite(end) and 0.0 <= start < end):
            raise ValueError(f"loop range {self.start!r}..{self.end!r} s is empty or negative; "
                             f"the end must come after the start, both at 0 s or later")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "on", bool(self.on))

    def frames(self, sample_rate: int) -> tuple[int, int] | tuple[None, None]:
        """(start, end) frames for the engine's Loop command; (None, None) when looping is off."""
        if not self.on:
            return None, None
        return int(round(self.start * sample_rate)), int(round(self.end * sample_rate))


@dataclass(eq=False)
class Session:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    block_size: int = DEFAULT_BLOCK_SIZE
    tracks: list[Track] = field(default_factory=list)
    busses: list[Bus] = field(default_factory=list)
    master: MasterBus = field(default_factory=MasterBus)
    midi: MidiMap = field(default_factory=MidiMap)  # controller mappings and the program map
    loop: LoopRange | None = None  # the transport's loop range (saved with the session; the engine follows it)
    # Seconds a touch write takes to glide back to its envelope when let go (0: at once); saved with the session.
    automation_glide: float = GLIDE_SECONDS
    history: History = field(default_factory=History, repr=False)
    # A one-file bounce ('rackhost render FILE --chain'): the render comes out as wide as the file after
    # its chains, at unity (rackhost.chain.mixer.bounced). A property of the render, never saved in a file.
    track_bounce: bool = field(default=False, repr=False)

    @property
    def edit(self) -> Editor:
        """Change the model with undo: ``session.edit.set_parameter(slot, "ratio", 4)``; the session's MIDI
        mappings follow the slots it adds, removes and moves."""
        return Editor(self.history, self)

    def undo(self) -> str | None:
        return self.history.undo()

    def take_contents(self, other: Session, label: str) -> None:
        """Become ``other`` (tracks, busses, master, MIDI, loop, rates) as one undo step, keeping this history:
        undo gives back what was here (``other`` holds it meanwhile, so keep it no longer than the history)."""
        contents = tuple(f.name for f in fields(self) if f.name not in ("history", "track_bounce"))
        self.history.run(SwapContents(self, other, contents, label))
        self.history.seal()

    def redo(self) -> str | None:
        return self.history.redo()

    def __post_init__(self) -> None:
        if not 8000 <= self.sample_rate <= 384000:
            raise SessionError(f"sample rate {self.sample_rate!r} Hz is outside 8000..384000 Hz")
        if not 16 <= self.block_size <= 16384:
            raise SessionError(f"block size {self.block_size!r} is outside 16..16384 frames")
        check_glide(self.automation_glide)

    # -- tracks -------------------------------------------------------------------

    def add_track(
        self,
        name: str,
        source: ArraySource | str | Path | None = None,
        chain: Chain | None = None,
        **options: object,
    ) -> Track:
        """Add a track; ``source`` may be an audio file path.

        ``options``: gain_db, pan, mute, solo, input, armed; for an instrument
        track (no source) ``instrument`` (a Plugin, or a name such as "Kars"),
        ``midi_channel`` (1..16, None for all) and ``midi`` (a MidiSequence).
        """
        if any(t.name == name for t in self.tracks):
            raise SessionError(f"a track named {name!r} already exists; track names are unique")
        if isinstance(source, (str, Path)):
            source = AudioFileSource(source)
        if isinstance(options.get("instrument"), str):  # an instrument track: a plug-in name or path
            options["instrument"] = Plugin.create(options["instrument"])  # type: ignore[arg-type]
        track = Track(name, source, chain or Chain(), **options)  # type: ignore[arg-type]
        if track.color is None:
            track.color = default_color(len(self.tracks))
        self.tracks.append(track)
        return track

    def track(self, name: str) -> Track:
        for track in self.tracks:
            if track.name == name:
                return track
        raise KeyError(f"no track named {name!r}; tracks: {', '.join(t.name for t in self.tracks) or '(none)'}")

    def remove_track(self, name: str) -> Track:
        track = self.track(name)
        self.tracks.remove(track)
        self._clear_keys(name)
        return track

    def _clear_keys(self, source: str) -> None:
        for slot in keyed_slots(self):
            if slot.key is not None and slot.key.source == source:
                slot.key = None

    def audible_tracks(self) -> list[Track]:
        """Tracks that are heard: not muted, and soloed if anything is soloed (mute beats solo).

        With busses, a track is heard if any of its paths (output or send) plays
        (see :meth:`routing.Graph.live`): soloing a bus keeps the tracks feeding it.
        """
        graph = self.graph()
        if graph is not None:
            heard = _heard(graph, graph.live())
            return [t for t, h in zip(self.tracks, heard) if h]
        soloing = any(t.solo for t in self.tracks)
        return [t for t in self.tracks if not t.mute and (t.solo or not soloing)]

    # -- busses -------------------------------------------------------------------

    def add_bus(self, name: str, chain: Chain | None = None, **options: object) -> Bus:
        """Add a bus (not undoable; ``session.edit.add_bus`` is). ``options``: gain_db, pan, mute, solo, output, sends.

        Route a track into it with ``track.output = name``, or send to it with ``track.add_send(name, -12.0)``.
        """
        name = name.strip() if isinstance(name, str) else name
        check_bus_name(self.busses, name)
        bus = Bus(name, chain or Chain(), **options)  # type: ignore[arg-type]
        if bus.color is None:
            bus.color = default_color(len(self.busses), bus=True)
        self.busses.append(bus)
        return bus

    def bus(self, name: str) -> Bus:
        for bus in self.busses:
            if bus.name == name:
                return bus
        raise KeyError(f"no bus named {name!r}; busses: {', '.join(b.name for b in self.busses) or '(none)'}")

    def remove_bus(self, name: str) -> Bus:
        """Remove a bus; what was routed into it goes where the bus went, and the sends to it are removed."""
        bus = self.bus(name)
        for strip in (*self.tracks, *self.busses):
            if strip.output == name:
                strip.output = bus.output if strip is not bus else None
            strip.sends = [s for s in strip.sends if s.bus != name]
        self.busses.remove(bus)
        self._clear_keys(name)
        return bus

    def graph(self) -> routing.Graph | None:
        """The checked mixer graph, or None for tracks summed straight into the master (no busses, no sends).

        Raises :class:`~rackhost.errors.UnknownBusError`, :class:`~rackhost.errors.UnknownKeySourceError`,
        :class:`~rackhost.errors.KeyedSplitSlotError` or :class:`~rackhost.errors.RoutingLoopError`.
        """
        chain = self.master.chain
        return routing.build(self.tracks, self.busses, chain) if routing.routed(self.tracks, self.busses, chain) \
            else None

    # -- processing ---------------------------------------------------------------

    def snapshot(self, max_segment: int | None = None, carry: DelayCarry | None = None) -> MixSnapshot:
        """An immutable, ready-to-run picture of the session for the block engine.

        Tracks with less latency than the slowest track are delayed to match it
        (plug-in delay compensation), so all arrive at the master aligned. The
        slowest of every track, heard or not: a mute or a solo must not move the
        others in time. ``carry``: a live engine's, so the alignment delays of the
        last snapshot play on in this one where their paths are the same.
        """
        if carry is not None:
            carry.begin()
        sr, block = float(self.sample_rate), self.block_size
        segment = max_segment or block
        if segment % block:
            raise ValueError(f"segment length {segment} is not a multiple of the block size {block}")
        if self.track_bounce and len(self.tracks) != 1:
            raise TrackBounceError(len(self.tracks))
        notes: list[str] = []
        prepared = []
        graph = self.graph()
        audible = self.audible_tracks()
        plan = Planner(sr, block, segment)  # the envelopes: parameters in the chains, gains in the mix
        others: dict[int, ChainProcessor] = {}  # a track's inactive A/B setting, run beside it for a blind test
        for index, track in enumerate(self.tracks):
            if track.source is None and not track.input and track.instrument is None and track in audible:
                raise SessionError(f"track {track.name!r} has no source; give it an audio file, an input "
                                   f"or an instrument")
            if track.instrument is not None:
                note = track.instrument.configure(2, sr)
                notes += [f"track {track.name!r}: {note}"] if note else []
            notes += [f"track {track.name!r}: {n}"
                      for n in track.chain.configure(track.channels, sr, track.keep_mono)]
            processor = track.chain.processor(track.channels, sr, block, segment, track.keep_mono,
                                              plan.slots(track))
            processor = plan.chain(track, processor, 0, track.channels)
            other = track.other_processor(sr, block, segment, processor.channels or track.channels)
            if other is not None:
                others[index] = other
                processor = _beside(track, processor, other, segment, carry)
            prepared.append((index, track, processor))
        notes += [f"master: {n}" for n in self.master.chain.configure(2, sr)]
        master_chain = self.master.chain.processor(2, sr, block, segment, automated=plan.slots(self.master))
        if graph is not None:
            return self._routed_snapshot(graph, prepared, master_chain, segment, notes, plan, others, carry)
        longest = max((p.latency for _, _, p in prepared), default=0)
        master = self._master_strip(plan, master_chain, longest, segment, carry)
        strips = tuple(
            TrackStrip(track.name, index, track.channels, processor, longest - processor.latency, segment,
                       track.audition_stage(processor.latency, segment, sr, others.get(index), carry),
                       carry=carry)
            for index, track, processor in prepared
        )
        gains, flags = self.mix_gains(tuple(strip.width for strip in strips))
        for strip, track, heard in zip(strips, self.tracks, flags):
            # A track's fader acts after the delay compensation: on what the sources held `longest` frames ago.
            fade = plan.fade(track, strip.width, longest, heard and (track.monitor or not track.input))
            if fade is not None:
                plan.mix.tracks[strip.index] = fade
        return MixSnapshot(strips, master, sr, block, segment, longest + master.chain.latency, gains, flags,
                           tuple(notes), automation=plan.mix or None)

    def _master_strip(self, plan: Planner, chain: ChainProcessor, arrival: int, segment: int,
                      carry: DelayCarry | None = None) -> MasterStrip:
        """The master strip, playing its envelopes ``arrival`` frames late (the latency of what feeds it)."""
        sr = float(self.sample_rate)
        chain = plan.chain(self.master, chain, arrival)
        other = self.master.other_processor(sr, self.block_size, segment, chain.channels or 2)
        chain = _beside(self.master, chain, other, segment, carry)
        fade = plan.fade(self.master, 2, arrival + chain.latency, True)
        if fade is not None:
            fade.law = "flat"
            plan.mix.master = fade
        return MasterStrip(chain, self.master.gain_db, fade=fade,
                           audition=self.master.audition_stage(chain.latency, segment, sr, other, carry))

    def _routed_snapshot(self, graph: routing.Graph, prepared: list, master_chain: ChainProcessor, segment: int,
                         notes: list[str], plan: Planner, others: dict[int, ChainProcessor],
                         carry: DelayCarry | None = None) -> MixSnapshot:
        """The snapshot of a session with busses: the tracks undelayed, every path aligned on its own."""
        sr, block = float(self.sample_rate), self.block_size
        busses = []
        for row, bus in enumerate(self.busses):
            notes += [f"bus {bus.name!r}: {n}" for n in bus.chain.configure(2, sr)]
            processor = bus.chain.processor(2, sr, block, segment, automated=plan.slots(bus))
            busses.append((bus, processor, bus.other_processor(sr, block, segment, processor.channels or 2)))
        # A bus running its other side beside its chain (a blind test) is as late as the later of the two.
        own = [processor.latency for _, _, processor in prepared] + [
            max(processor.latency, other.latency if other is not None else 0) for _, processor, other in busses]
        first = graph.tracks
        keyed_chains = [self.master.chain if k.dest is None else graph.strips[k.dest].chain for k in graph.keys]
        before = [chain.latency_before(k.index, sr, block) for k, chain in zip(graph.keys, keyed_chains)]
        delays, arrival = graph.alignment(own, before)
        arrivals = graph.arrivals(own, before)
        key_delays = graph.key_alignment(own, before)
        # A keyed track's input waits where its key comes later than its main signal at the keyed slot.
        strips = tuple(TrackStrip(track.name, index, track.channels, processor, 0, segment,
                                  track.audition_stage(processor.latency, segment, sr, others.get(index), carry),
                                  arrivals[node], carry)
                       for node, (index, track, processor) in enumerate(prepared))
        late_tracks = graph.late  # keyed by a bus: the router renders them
        key_gains = self._key_gains(graph, tuple(s.width for s in strips))
        key_cell = [key_gains]
        taps = []
        heard: dict[int, list[tuple[KeyTap, TrackStrip]]] = {}  # keyed track -> its keys
        for n, (k, delay) in enumerate(zip(graph.keys, key_delays)):
            on_track = k.dest is not None and k.dest < first
            processor = master_chain if k.dest is None else (strips[k.dest].chain if on_track else
                                                             busses[k.dest - first][1])
            stage = dict(processor.keys).get(k.index)
            if stage is None:  # a bypassed keyed slot, or one whose plug-in is missing, hears nothing
                continue
            where = "master" if k.dest is None else graph.strips[k.dest].name
            tap = KeyTap(k.source if k.source < first else k.source - first, k.source >= first, n, stage, delay,
                         segment, carry, (graph.strips[k.source].name, where, k.index))
            if on_track and k.dest not in late_tracks:  # keyed by a track only: rendered after it, before any bus
                heard.setdefault(k.dest, []).append((tap, strips[k.source]))  # type: ignore[arg-type]
            else:  # the router writes it, before any fader or as its source runs
                taps.append(tap)
        for node, keys in heard.items():
            strips[node].keys, strips[node].key_gains = tuple(keys), key_cell
        for node in (*graph.track_order, *late_tracks):  # a keyed track's chain plays its envelopes as its input waits
            _lag_envelopes(plan, strips[node].chain, arrivals[node])
        bus_strips = []
        for row, (bus, processor, other) in enumerate(busses):
            processor = _beside(bus, plan.chain(bus, processor, arrivals[first + row]), other, segment, carry)
            bus_strips.append(BusStrip(bus.name, row, processor,
                                       bus.audition_stage(processor.latency, segment, sr, other, carry)))
        master = self._master_strip(plan, master_chain, arrival, segment, carry)

        def row(node: int) -> int:
            return node if node < first else node - first

        live = graph.live()
        fed = _fed(graph, live)
        late = [arrivals[node] + own[node] for node in range(len(own))]
        edges = tuple(
            RouteEdge(row(e.source), -1 if e.dest is None else e.dest - first, k, delay, segment,
                      None if e.send is None else plan.send_fade(graph.strips[e.source], e.send,
                                                                 late[e.source] + delay, plays),
                      carry, (graph.strips[e.source].name, "master" if e.dest is None else graph.strips[e.dest].name,
                              "output" if e.send is None else "send", e.pre_fader))
            for k, (e, delay, plays) in enumerate(zip(graph.edges, delays, live)))
        widths = tuple(strip.width for strip in strips)
        gains, flags, edge_gains, bus_gains = self._routed_gains(graph, widths)
        for node, strip in enumerate(graph.strips):
            width = strips[node].width if node < first else 2
            fade = plan.fade(strip, width, late[node], fed[node])
            if fade is not None:
                (plan.mix.tracks if node < first else plan.mix.busses)[row(node)] = fade
        places, seen = [], 0  # each late track's place: before the first bus after it in the run order
        for node in graph.order:
            if node < first:
                places.append((node, seen))
            else:
                seen += 1
        router = Router(tuple(bus_strips), tuple(n - first for n in graph.order if n >= first), edges,
                        tuple(None if e.source < first else e.source - first for e in graph.edges),
                        tuple(e.pre_fader for e in graph.edges), edge_gains, bus_gains, graph.structure, segment,
                        tuple(taps), key_gains, key_cell, tuple(places))
        return MixSnapshot(strips, master, sr, block, segment, arrival + master.chain.latency, gains, flags,
                           tuple(notes), router, automation=plan.mix or None, keyed_tracks=graph.track_order,
                           key_sources=graph.track_sources | set(late_tracks))

    def _routed_gains(
        self, graph: routing.Graph, widths: tuple[int, ...]
    ) -> tuple[np.ndarray, tuple[bool, ...], np.ndarray, np.ndarray]:
        """Track gains and heard flags (as :meth:`mix_gains`), each path's gain, and each bus's fader and balance.

        A strip's fader is zero when no path after it plays (so its meter reads
        what it feeds); a path's gain is its send level, zero when it is silent.
        """
        live = graph.live()
        fed = _fed(graph, live)
        gains = np.array(
            [strip_gains(t.gain_db if fed[i] else -math.inf, t.pan, width)
             for i, (t, width) in enumerate(zip(self.tracks, widths))],
            np.float32,
        ).reshape(len(self.tracks), 2, 1)
        edge_gains = np.array(
            [(db_to_gain(e.send.level_db) if e.send is not None else 1.0) if playing else 0.0
             for e, playing in zip(graph.edges, live)],
            np.float32,
        )
        first = graph.tracks
        bus_gains = np.array(
            [strip_gains(b.gain_db if fed[first + j] else -math.inf, b.pan, 2) for j, b in enumerate(self.busses)],
            np.float32,
        ).reshape(len(self.busses), 2, 1)
        return gains, _heard(graph, live), edge_gains, bus_gains

    def _key_gains(self, graph: routing.Graph, widths: tuple[int, ...]) -> np.ndarray:
        """Each key's left and right gain: 1 before the fader, the source's fader and pan after it, 0 from a
        muted source (or an input not monitored). Solos are left out: soloing a strip never changes a key."""
        out = []
        for k in graph.keys:
            source = graph.strips[k.source]
            width = widths[k.source] if k.source < graph.tracks else 2
            silent = source.mute or not getattr(source, "monitor", True) and bool(getattr(source, "input", ()))
            if silent:
                out.append((0.0, 0.0))
            elif k.key.pre_fader:
                out.append((1.0, 1.0))
            else:
                out.append(strip_gains(source.gain_db, source.pan, width))
        return np.array(out, np.float32).reshape(len(graph.keys), 2, 1)

    def mix_gains(self, widths: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple[bool, ...]]:
        """Each track's left and right gain in the mix (tracks, 2, 1), and whether it reaches the master.

        Fader and pan, zero for a track muted or silenced by a solo, and for an
        input that is not monitored (it still runs and records, unheard). The
        pan is a pan law for a track that is mono after its chain and a balance
        for one that is stereo (``widths``: each track's width after its chain,
        by default worked out from the chains).
        """
        if widths is None:
            widths = tuple(t.width(self.sample_rate) for t in self.tracks)
        graph = self.graph()
        if graph is not None:
            return self._routed_gains(graph, widths)[:2]
        audible = self.audible_tracks()
        flags = tuple(t in audible for t in self.tracks)
        gains = np.array(
            [strip_gains(t.gain_db if heard and (t.monitor or not t.input) else -math.inf, t.pan, width)
             for t, heard, width in zip(self.tracks, flags, widths)],
            np.float32,
        ).reshape(len(self.tracks), 2, 1)
        return gains, flags

    def remix(self, snapshot: MixSnapshot) -> MixSnapshot:
        """``snapshot`` with this session's faders, pans, mutes, solos, send levels and master gain; the chains
        and delay lines are untouched. The graph must be the snapshot's (see :meth:`fits`)."""
        widths = tuple(strip.width for strip in snapshot.tracks)
        graph = self.graph()
        if graph is None:
            gains, flags = self.mix_gains(widths)
            self._rehear(snapshot, [h and (t.monitor or not t.input) for t, h in zip(self.tracks, flags)])
            return snapshot.remixed(gains, flags, self.master.gain_db)
        if snapshot.router is None or snapshot.router.structure != graph.structure:
            raise ValueError("the session's busses or paths changed since the snapshot: make a new snapshot")
        gains, flags, edge_gains, bus_gains = self._routed_gains(graph, widths)
        live = graph.live()
        self._rehear(snapshot, _fed(graph, live), live)
        router = snapshot.router.regained(edge_gains, bus_gains, self._key_gains(graph, widths))
        return snapshot.remixed(gains, flags, self.master.gain_db, router)

    def _rehear(self, snapshot: MixSnapshot, heard: list[bool], live: tuple[bool, ...] = ()) -> None:
        """Tell the snapshot's fades which strips and paths a mute or a solo silences now (one float each)."""
        automation = snapshot.automation
        if automation is None:
            return
        for row, fade in automation.tracks.items():
            fade.heard = 1.0 if heard[row] else 0.0
        for row, fade in automation.busses.items():
            fade.heard = 1.0 if heard[len(self.tracks) + row] else 0.0
        for edge in (snapshot.router.edges if snapshot.router is not None else ()):
            if edge.fade is not None:
                edge.fade.heard = 1.0 if live[edge.gain] else 0.0

    def fits(self, snapshot: MixSnapshot) -> bool:
        """Can :meth:`remix` bring ``snapshot`` up to date (same tracks, busses and paths), or is a new one needed?"""
        if len(snapshot.tracks) != len(self.tracks):
            return False
        try:
            graph = self.graph()
        except RoutingError:
            return False
        if graph is None:
            return snapshot.router is None
        return snapshot.router is not None and snapshot.router.structure == graph.structure

    def reset(self) -> None:
        """Clear every plug-in's audio state, as before a fresh render."""
        for track in self.tracks:
            track.chain.reset()
            if track.instrument is not None:
                track.instrument.reset()
        for bus in self.busses:
            bus.chain.reset()
        self.master.chain.reset()

    def length(self) -> int:
        """Frames of the longest audible source (audio file, or an instrument track's MIDI) at the session rate."""
        return max(
            [t.source.audio(self.sample_rate).shape[1] for t in self.audible_tracks() if t.source]
            + [t.midi.length(self.sample_rate) for t in self.audible_tracks() if t.instrument and t.midi],
            default=0,
        )



def _beside(owner: Auditioned, processor: ChainProcessor, other: ChainProcessor | None,
            segment: int, carry: DelayCarry | None = None) -> ChainProcessor:
    """``processor``, delayed to wait for ``other`` (the side a blind test runs beside it) if that is later,
    so a switch between them never jumps in time; the delay carried over by ``carry`` (a rebuild leaves no gap)."""
    if other is None or other.latency <= processor.latency:
        return processor
    return delayed(processor, other.latency - processor.latency, owner.channels, segment, carry,
                   ("beside", owner.strip_name))


def _lag_envelopes(plan: Planner, chain: ChainProcessor, frames: int) -> None:
    """Play the chain's parameter envelopes ``frames`` later (its input waits that long for a key); made with none."""
    if not frames or chain.automation is None:
        return
    stages = stage_automations(chain)  # a split's branches' too
    moved = {id(curve) for a in stages for curve in a.curves}
    for a in stages:
        a.lag += frames
    for entries in plan.mix.curves.values():
        entries[:] = [(curve, lag + frames if id(curve) in moved else lag) for curve, lag in entries]


def _fed(graph: routing.Graph, live: tuple[bool, ...]) -> list[bool]:
    """Per strip: does a path after its fader play? (If none does, its fader is zero, so its meter reads what it
    feeds.)"""
    fed = [False] * len(graph.strips)
    for e, playing in zip(graph.edges, live):
        fed[e.source] |= playing and not e.pre_fader
    return fed


def _heard(graph: routing.Graph, live: tuple[bool, ...]) -> tuple[bool, ...]:
    """Per track: does any of its paths play?"""
    heard = [False] * graph.tracks
    for e, playing in zip(graph.edges, live):
        if e.source < graph.tracks and playing:
            heard[e.source] = True
    return tuple(heard)
