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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

from rackhost.chain.bus import Bus, Send
from rackhost.errors import RoutingLoopError, UnknownBusError

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
class Graph:
    strips: tuple[Strip, ...]  # the tracks, then the busses
    tracks: int
    edges: tuple[Edge, ...]  # node by node: its output, then its sends in order
    order: tuple[int, ...]  # bus nodes in the order they run: each after every strip that feeds it

    @property
    def structure(self) -> tuple:
        """What a compiled snapshot depends on beyond gains: strips, and every edge's ends and tap point."""
        return (self.tracks, tuple(s.name for s in self.strips[self.tracks:]),
                tuple((e.source, e.dest, e.send is None, e.pre_fader) for e in self.edges))

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

    def arrivals(self, own: Sequence[int]) -> list[int]:
        """Per node, the latency of what reaches its input (0 for a track), from each node's own latency ``own``."""
        late = list(own)
        arrival = [0] * len(own)
        for node in self.order:
            arrival[node] = max((late[e.source] for e in self.edges if e.dest == node), default=0)
            late[node] = arrival[node] + own[node]
        return arrival

    def alignment(self, own: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """Each edge's delay and the latency at the master's input, from each node's own chain latency ``own``."""
        late = list(own)  # output latency per node
        arrival: dict[int, int] = {}
        for node in self.order:
            arrival[node] = max((late[e.source] for e in self.edges if e.dest == node), default=0)
            late[node] = arrival[node] + own[node]
        master = max((late[e.source] for e in self.edges if e.dest is None), default=0)
        delays = tuple((master if e.dest is None else arrival[e.dest]) - late[e.source] for e in self.edges)
        return delays, master


def routed(tracks: Sequence[Track], busses: Sequence[Bus]) -> bool:
    """Does the session need the graph (busses, or a strip naming one), or is it tracks summed into the master?"""
    return bool(busses) or any(t.output is not None or t.sends for t in tracks)


def build(tracks: Sequence[Track], busses: Sequence[Bus]) -> Graph:
    """The checked graph; raises :class:`UnknownBusError` or :class:`RoutingLoopError` naming the fault."""
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
    feeds: dict[int, list[int]] = {n: [] for n in node_of.values()}  # bus -> the busses it feeds
    for e in edges:
        if e.source >= first and e.dest is not None and e.dest not in feeds[e.source]:
            feeds[e.source].append(e.dest)
    _refuse_loops(strips, feeds)
    return Graph(strips, first, tuple(edges), _run_order(feeds))


def _refuse_loops(strips: tuple[Strip, ...], feeds: dict[int, list[int]]) -> None:
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    path: list[int] = []

    def visit(n: int) -> None:
        state[n] = 1
        path.append(n)
        for d in feeds[n]:
            if state.get(d) == 1:
                loop = path[path.index(d):] + [d]
                raise RoutingLoopError(tuple(strips[k].name for k in loop))
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
