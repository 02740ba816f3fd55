"""The mixer graph of a session: who feeds whom, in which order busses run, what is heard, and the delays
that line every path up.

Strips are numbered as *nodes*: the tracks first (0 .. tracks - 1), then the
busses in session order. Every node has one *output* edge (to the master, or a
bus) and an edge per send. The graph is checked and sorted once per structural
edit (:func:`build`), never per block.

Delay compensation: a bus's input is late by the slowest path into it (the
largest output latency of the strips feeding it, through outputs and sends,
pre- or post-fader alike), so every edge into it is delayed by the difference;
its own output is then that plus its chain's latency. The master is aligned the
same way, so an impulse played on every track lands on one sample at the master
whatever path it took. Timing follows every edge, muted or not: a mute, a solo
or a muted send never moves anything in time.

Keys (:mod:`rackhost.chain.sidechain`) are edges too: a keyed slot on a bus or
the master hears a track or bus, so that strip runs first, and a key that would
close a circle is refused like any loop. A key is aligned to the main signal
at its slot (the strip's input latency plus its chain's latency before the slot);
where the key is the later of the two, the strip's input waits for it, and
everything after it is aligned to that. A keyed slot on a track hears another
track: the keyed tracks render after every other track, in :attr:`Graph.track_order`
(each after the tracks keying it). A track keyed by a bus runs among the busses
(:attr:`Graph.late`): after that bus, before the busses it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

from rackhost.chain.bus import Bus, Send
from rackhost.chain.chain import Chain, Slot
from rackhost.chain.sidechain import Key
from rackhost.errors import (KeyedSplitSlotError, RoutingLoopError, UnknownBusError,
                             UnknownKeySourceError)

if TYPE_CHECKING:
    from rackhost.chain.track import Track

Strip = Union["Track", Bus]


@dataclass(frozen=True)
class Edge:
    """A path from one strip to a bus or the master: its output (``send`` None) or one of its sends."""

    source: int  # node
    dest: int | None  # a bus's node, or None: the master
    send: Send | None = None

    @property
    def pre_fader(self) -> bool:
        return self.send is not None and self.send.pre_fader


@dataclass(frozen=True)
class KeyEdge:
    """A keyed slot's key: from strip ``source`` into slot ``index`` of track or bus ``dest``'s chain (None: the
    master's)."""

    source: int  # node
    dest: int | None
    index: int
    slot: Slot

    @property
    def key(self) -> Key:
        assert self.slot.key is not None
        return self.slot.key


@dataclass(frozen=True)
class Graph:
    strips: tuple[Strip, ...]  # the tracks, then the busses
    tracks: int
    edges: tuple[Edge, ...]  # node by node: its output, then its sends in order
    # Bus nodes in the order they run, each after every strip that feeds it or keys it; among them the tracks
    # keyed by a bus (:attr:`late`), each after what keys it and before what it feeds.
    order: tuple[int, ...]
    keys: tuple[KeyEdge, ...] = ()  # the tracks' keyed slots, the busses' in run order... then the master's
    # The tracks keyed by tracks only, each after the tracks keying it: they render after every other track.
    track_order: tuple[int, ...] = ()

    @property
    def late(self) -> tuple[int, ...]:
        """The tracks keyed by a bus (or by such a track), in :attr:`order`: the router renders them."""
        return tuple(n for n in self.order if n < self.tracks)

    @property
    def track_sources(self) -> frozenset[int]:
        """The tracks a track's slot hears: they render before the keyed tracks, on the same thread."""
        return frozenset(k.source for k in self.keys if k.dest is not None and k.dest < self.tracks)

    @property
    def structure(self) -> tuple:
        """What a compiled snapshot depends on beyond gains: strips, and every edge's ends and tap point."""
        return (self.tracks, tuple(s.name for s in self.strips[self.tracks:]),
                tuple((e.source, e.dest, e.send is None, e.pre_fader) for e in self.edges),
                tuple((k.source, k.dest, k.index, id(k.slot), k.key.pre_fader, k.slot.bypass) for k in self.keys))

    def live(self) -> tuple[bool, ...]:
        """Per edge: does it carry sound, given mutes, muted sends and solos?

        A muted strip feeds nothing (its output and its sends). With anything
        soloed, an edge plays if its source is soloed or fed by a soloed strip
        (a soloed vocal keeps its reverb return and the busses it goes through),
        or if it leads into a soloed strip or one that feeds it (soloing a drum
        bus plays the drums routed or sent into it). Everything else is silent.
        """
        soloed = {i for i, s in enumerate(self.strips) if s.solo}
        down = self._closure(soloed, forward=True) if soloed else set()
        up = self._closure(soloed, forward=False) if soloed else set()
        out = []
        for e in self.edges:
            source = self.strips[e.source]
            silent = source.mute or not getattr(source, "monitor", True) and bool(getattr(source, "input", ()))
            if silent or (e.send is not None and e.send.muted):
                out.append(False)
            else:
                out.append(not soloed or e.source in down or (e.dest is not None and e.dest in up))
        return tuple(out)

    def _closure(self, start: set[int], forward: bool) -> set[int]:
        seen = set(start)
        todo = list(start)
        while todo:
            node = todo.pop()
            for e in self.edges:
                if e.dest is None:
                    continue
                a, b = (e.source, e.dest) if forward else (e.dest, e.source)
                if a == node and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    def arrivals(self, own: Sequence[int], before: Sequence[int] = ()) -> list[int]:
        """Per node, the latency of what reaches its input (0 for a track), from each node's own latency ``own``
        (and ``before``, as for :meth:`alignment`: a key later than a bus's main signal makes the bus wait)."""
        return self._align(own, before)[3]

    def alignment(self, own: Sequence[int], before: Sequence[int] = ()) -> tuple[tuple[int, ...], int]:
        """Each edge's delay and the latency at the master's input, from each node's own chain latency ``own``.

        ``before``: per key, the latency of its bus's (or the master's) chain before the keyed slot;
        :meth:`key_alignment` gives the keys' delays.
        """
        return self._align(own, before)[:2]

    def key_alignment(self, own: Sequence[int], before: Sequence[int]) -> tuple[int, ...]:
        """Each key's delay, so that it reaches its slot on the same sample as the main signal."""
        return self._align(own, before)[2]

    def _align(self, own: Sequence[int], before: Sequence[int]
               ) -> tuple[tuple[int, ...], int, tuple[int, ...], list[int]]:
        before = tuple(before) or (0,) * len(self.keys)
        late = list(own)  # output latency per node
        arrival: dict[int | None, int] = {}

        def input_latency(node: int | None) -> int:
            fed = (late[e.source] for e in self.edges if e.dest == node)
            keyed = (late[k.source] - b for k, b in zip(self.keys, before) if k.dest == node)
            return max(max(fed, default=0), max(keyed, default=0))

        for node in (*self.track_order, *self.order):
            arrival[node] = input_latency(node)
            late[node] = arrival[node] + own[node]
        master = arrival[None] = input_latency(None)
        delays = tuple(arrival[e.dest] - late[e.source] for e in self.edges)
        key_delays = tuple(arrival[k.dest] + b - late[k.source] for k, b in zip(self.keys, before))
        return delays, master, key_delays, [arrival.get(node, 0) for node in range(len(own))]


def routed(tracks: Sequence[Track], busses: Sequence[Bus], master: Chain | None = None) -> bool:
    """Does the session need the graph (busses, a strip naming one, or a key), or is it tracks summed into the
    master?"""
    return (bool(busses) or any(t.output is not None or t.sends or t.chain.keyed() for t in tracks)
            or bool(master is not None and master.keyed()))


def build(tracks: Sequence[Track], busses: Sequence[Bus], master: Chain | None = None) -> Graph:
    """The checked graph; raises :class:`UnknownBusError`, :class:`UnknownKeySourceError`,
    :class:`KeyedSplitSlotError` or :class:`RoutingLoopError` naming the fault."""
    strips: tuple[Strip, ...] = (*tracks, *busses)
    first = len(tracks)
    node_of = {b.name: first + j for j, b in enumerate(busses)}
    names = [b.name for b in busses]

    def node(strip: Strip, i: int, bus: str, send: int | None) -> int:
        if bus not in node_of:
            owner, index = ("track", i) if i < first else ("bus", i - first)
            raise UnknownBusError(owner, strip.name, index, bus, send, names)
        return node_of[bus]

    edges = []
    for i, strip in enumerate(strips):
        edges.append(Edge(i, None if strip.output is None else node(strip, i, strip.output, None)))
        edges += [Edge(i, node(strip, i, s.bus, k), s) for k, s in enumerate(strip.sends)]
    keys = _key_edges(tracks, busses, master)
    track_keys = [k for k in keys if k.dest is not None and k.dest < first]
    # Tracks keying tracks: a circle among them is refused first, named as one.
    hears: dict[int, list[int]] = {n: [] for n in sorted({k.dest for k in track_keys})}  # type: ignore[misc]
    track_keying: set[tuple[int, int]] = set()
    for k in track_keys:
        if k.source in hears and k.dest not in hears[k.source]:
            hears[k.source].append(k.dest)  # type: ignore[arg-type]
        track_keying.add((k.source, k.dest))  # type: ignore[arg-type]
    _refuse_loops(strips, hears, track_keying, first)
    # A track keyed by a bus (or by such a track) runs among the busses, after the bus keying it.
    late = {k.dest for k in track_keys if k.source >= first}
    grown = True
    while grown:
        grown = False
        for k in track_keys:
            if k.source in late and k.dest not in late:
                late.add(k.dest)
                grown = True
    # node -> the busses (and late tracks) it feeds or keys
    feeds: dict[int, list[int]] = {n: [] for n in (*sorted(late), *node_of.values())}  # type: ignore[misc]
    keying: set[tuple[int, int]] = set()  # (source, dest) pairs joined by a key only
    for e in edges:
        if e.source in feeds and e.dest is not None and e.dest not in feeds[e.source]:
            feeds[e.source].append(e.dest)
    for k in keys:
        if k.source in feeds and k.dest is not None and k.dest not in feeds[k.source]:
            feeds[k.source].append(k.dest)
            keying.add((k.source, k.dest))
    _refuse_loops(strips, feeds, keying, first)
    order = _run_order(feeds)
    track_order = tuple(n for n in _run_order(hears) if n not in late)
    ranked = {n: i for i, n in enumerate((*track_order, *order))}
    keys.sort(key=lambda k: (len(ranked) if k.dest is None else ranked[k.dest], k.index))
    return Graph(strips, first, tuple(edges), order, tuple(keys), track_order)


def _key_edges(tracks: Sequence[Track], busses: Sequence[Bus], master: Chain | None) -> list[KeyEdge]:
    first = len(tracks)
    node_of: dict[str, int] = {}
    for j, b in enumerate(busses):
        node_of[b.name] = first + j
    track_of = {t.name: i for i, t in enumerate(tracks)}
    keys = []
    owners: list[tuple[str, int, str, Chain, int | None]] = [
        ("track", i, t.name, t.chain, i) for i, t in enumerate(tracks)]
    owners += [("bus", j, b.name, b.chain, first + j) for j, b in enumerate(busses)]
    if master is not None:
        owners.append(("master", 0, "master", master, None))
    for owner, index, name, chain, node in owners:
        inside = [slot for slot in chain.keyed() if not any(slot is item for item in chain.slots)]
        if inside:
            raise KeyedSplitSlotError("the master" if owner == "master" else f"{owner} {name!r}", inside[0].name)
        for s, slot in enumerate(chain.slots):
            if getattr(slot, "key", None) is None:  # a split has none
                continue
            source = slot.key.source
            if source in track_of and source in node_of:
                raise UnknownKeySourceError(owner, name, index, s, source, [], ambiguous=True)
            found = track_of.get(source, node_of.get(source))
            if found is None:
                raise UnknownKeySourceError(owner, name, index, s, source,
                                            [*track_of, *(b.name for b in busses)])
            keys.append(KeyEdge(found, node, s, slot))
    return keys


def _refuse_loops(strips: tuple[Strip, ...], feeds: dict[int, list[int]],
                  keying: set[tuple[int, int]] = frozenset(), first: int = 0) -> None:  # type: ignore[assignment]
    """``first``: the first bus node; a loop through a node below it goes through a keyed track."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    path: list[int] = []

    def visit(n: int) -> None:
        state[n] = 1
        path.append(n)
        for d in feeds[n]:
            if state.get(d) == 1:
                loop = path[path.index(d):] + [d]
                keyed = tuple((a, b) in keying for a, b in zip(loop, loop[1:]))
                raise RoutingLoopError(tuple(strips[k].name for k in loop), keyed, any(k < first for k in loop))
            if d not in state:
                visit(d)
        path.pop()
        state[n] = 2

    for n in feeds:
        if n not in state:
            visit(n)


def _run_order(feeds: dict[int, list[int]]) -> tuple[int, ...]:
    """Busses sorted so each runs after every bus feeding it; otherwise in session order."""
    waiting = {n: 0 for n in feeds}
    for targets in feeds.values():
        for d in targets:
            waiting[d] += 1
    order: list[int] = []
    ready = sorted(n for n, k in waiting.items() if k == 0)
    while ready:
        n = ready.pop(0)
        order.append(n)
        for d in feeds[n]:
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
                ready.sort()
    return tuple(order)
