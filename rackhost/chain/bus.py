"""Busses and sends: strips fed by other strips rather than by an input.

A :class:`Bus` is a strip like a track without a source: a chain, fader, pan
(a balance: a bus is stereo), mute, solo, A/B and audition (its chain against
what feeds it, matched; :mod:`rackhost.chain.audition`). Every track and bus has an
``output`` (None: the master, or a bus's name) and ``sends`` (:class:`Send`)
to busses, pre- or post-fader. How the graph is checked, ordered and aligned
in time is :mod:`rackhost.chain.routing`; how it runs, :mod:`rackhost.chain.mixer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rackhost.chain.audition import Audition, Auditioned
from rackhost.chain.chain import Chain
from rackhost.chain.colors import check_color
from rackhost.chain.compare import ABCompare
from rackhost.errors import RoutingError, SessionError

MIN_SEND_DB = -150.0  # at or below this a send is silent (dsp.db_to_gain)
MAX_SEND_DB = 12.0


@dataclass(eq=False)
class Send:
    """A copy of a strip's signal to a bus: at ``level_db``, taken before its fader and pan (``pre_fader``)
    or after them; a ``muted`` send sends nothing."""

    bus: str
    level_db: float = 0.0
    pre_fader: bool = False
    muted: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bus, str) or not self.bus:
            raise ValueError(f"a send needs the name of the bus it feeds; got {self.bus!r}")
        self.level_db = check_send_level(self.bus, self.level_db)
        self.pre_fader = bool(self.pre_fader)
        self.muted = bool(self.muted)


def check_send_level(bus: str, level_db: object) -> float:
    if isinstance(level_db, bool) or not isinstance(level_db, (int, float)) or math.isnan(level_db) \
            or not level_db <= MAX_SEND_DB:
        raise ValueError(f"level of the send to {bus!r} must be a number of dB up to {MAX_SEND_DB:+g} "
                         f"(-inf for silence); got {level_db!r}")
    return float(level_db)


class Routed:
    """What tracks and busses share: where their output goes and their sends (``output`` and ``sends``)."""

    name: str
    output: str | None
    sends: list[Send]

    def add_send(self, bus: str, level_db: float = 0.0, pre_fader: bool = False, muted: bool = False) -> Send:
        """Send this strip to ``bus`` (not undoable; ``session.edit.add_send`` is). One send per bus."""
        send = Send(bus, level_db, pre_fader, muted)
        self._refuse_second_send(bus)
        self.sends.append(send)
        return send

    def send(self, bus: str) -> Send:
        for send in self.sends:
            if send.bus == bus:
                return send
        raise KeyError(f"{self.name!r} has no send to {bus!r}; its sends go to "
                       f"{', '.join(repr(s.bus) for s in self.sends) or '(none)'}")

    def remove_send(self, bus: str) -> Send:
        send = self.send(bus)
        self.sends.remove(send)
        return send

    def _refuse_second_send(self, bus: str) -> None:
        if any(s.bus == bus for s in self.sends):
            raise RoutingError(f"{self.name!r} sends to {bus!r} already; change that send's level instead")


@dataclass(eq=False)
class Bus(Routed, Auditioned):
    """A stereo strip summing what is routed or sent to it, through its chain, fader and pan, to its output."""

    name: str
    chain: Chain = field(default_factory=Chain)
    gain_db: float = 0.0
    pan: float = 0.0  # a balance
    mute: bool = False
    solo: bool = False
    ab: ABCompare = field(default_factory=ABCompare)
    output: str | None = None  # None: the master; or the name of a bus
    sends: list[Send] = field(default_factory=list)
    # Its envelopes (rackhost.chain.automation.Envelope, which imports this module) on its slots, fader, pan, sends.
    automation: list = field(default_factory=list)
    color: str | None = None  # '#rrggbb': its strip's band; None until a session places it
    audition: Audition = field(default_factory=Audition)  # bypass-compare at matched loudness, delta

    channels = 2

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a bus needs a name")
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan of bus {self.name!r} must be between -1 (left) and 1 (right); got {self.pan!r}")
        self.sends = list(self.sends)
        self.color = check_color(f"bus {self.name!r}", self.color)

    def width(self, sample_rate: float) -> int:
        return self.chain.output_channels(2, sample_rate)


def check_bus_name(busses: list[Bus], name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise SessionError("a bus needs a name")
    if any(b.name == name for b in busses):
        raise SessionError(f"a bus named {name!r} already exists; bus names are unique")
