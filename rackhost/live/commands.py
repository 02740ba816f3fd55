"""What a parent can tell a running engine: one small frozen command per engine operation.

The window (or any parent) makes a command and hands it to
:meth:`rackhost.live.process.EngineProcess.send`; it travels through a pipe
(so every command pickles) and the engine process applies it with the handler
its table names for the command's type (:data:`rackhost.live.process.HANDLERS`).
Both sides read the same classes, so a misspelt operation or a missing argument
fails where the command is made, not later in the other process.

``track`` is a track's index in the session, a :class:`BusRow` (a bus's index
in the session's busses), or None for the master. Each
command says what it needs of the audio state once applied (:class:`Needs`):
nothing, new gains (a fader: microseconds), or a rebuild (new chains). The
engine applies every command waiting in the pipe, then updates once, for the
most any of them needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar

from rackhost.chain.midi.mapping import CCMapping, MappingTarget
from rackhost.errors import RackhostError
from rackhost.live.match_tap import check_seconds


class Needs(IntEnum):
    """What the audio state needs after a command, in increasing cost (the batch takes the largest)."""

    NOTHING = 0  # the transport, a parameter (the callback's queue applies it), an armed learn
    REMIX = 1  # new gains only: engine.update_mix()
    REBUILD = 2  # new chains or mappings: engine.update()


NOTHING, REMIX, REBUILD = Needs.NOTHING, Needs.REMIX, Needs.REBUILD


class EngineCommandError(RackhostError):
    """A command names something the engine's session does not have (a track or slot since removed)."""


@dataclass(frozen=True)
class Command:
    """Base of every engine command."""

    needs: ClassVar[Needs] = NOTHING

    @property
    def label(self) -> str:
        """The command in words, for the user's messages ("set parameter", "bypass")."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", type(self).__name__).lower()


@dataclass(frozen=True)
class BusRow:
    """A bus, by its index in the session's busses: where a strip command names a bus instead of a track."""

    index: int

    def __post_init__(self) -> None:
        _check_index("a bus's index", self.index, master=False)


def _check_index(what: str, value: object, *, master: bool) -> None:
    if value is None and master:
        return
    if isinstance(value, BusRow) and master:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        also = " or None (the master)" if master else ""
        raise TypeError(f"{what} must be an index 0, 1, ...{also}; got {value!r}")


# -- the transport -------------------------------------------------------------------


@dataclass(frozen=True)
class Play(Command):
    pass


@dataclass(frozen=True)
class Pause(Command):
    pass


@dataclass(frozen=True)
class Stop(Command):
    """Stop the transport (and finish the takes being recorded)."""


@dataclass(frozen=True)
class Record(Command):
    """Record the armed tracks into ``folder`` and play."""

    folder: str
    file_format: str = "WAV"

    def __post_init__(self) -> None:
        if isinstance(self.folder, Path):
            object.__setattr__(self, "folder", str(self.folder))
        if not isinstance(self.folder, str) or not self.folder:
            raise TypeError(f"Record takes the takes' folder as a path; got {self.folder!r}")


@dataclass(frozen=True)
class Locate(Command):
    """Move the transport to ``frame`` (taken at the next block)."""

    frame: int

    def __post_init__(self) -> None:
        _check_index("Locate's frame", self.frame, master=False)


@dataclass(frozen=True)
class Loop(Command):
    """Loop between two frames (whole blocks); ``start`` None turns looping off."""

    start: int | None
    end: int | None = None


@dataclass(frozen=True)
class Quit(Command):
    """Finish (takes are finalized) and end the engine process; the pipe's last command."""


# -- a track or the master --------------------------------------------------------------


@dataclass(frozen=True)
class OnStrip(Command):
    """A command for one track (an index), a bus (a :class:`BusRow`) or the master (None)."""

    track: int | BusRow | None

    def __post_init__(self) -> None:
        _check_index(f"{type(self).__name__}'s track", self.track, master=True)


@dataclass(frozen=True)
class OnSlot(OnStrip):
    """A command for one slot of a track's (or the master's) chain.

    A command that can reach into a split also has a ``path``: (branch, slot, branch, slot, ...) from the split
    at ``slot`` down to the plug-in (empty: ``slot`` itself); see :data:`rackhost.chain.chain.SlotPath`.
    """

    slot: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_index(f"{type(self).__name__}'s slot", self.slot, master=False)
        path = getattr(self, "path", ())
        if not isinstance(path, tuple) or len(path) % 2:
            raise TypeError(f"{type(self).__name__}'s path is (branch, slot) pairs inside the split at slot "
                            f"{self.slot}; got {path!r}")
        for step in path:
            _check_index(f"{type(self).__name__}'s path", step, master=False)


@dataclass(frozen=True)
class StripValue(OnStrip):
    """Set one of a strip's mix values (``attribute`` on the track): new gains, no new chains."""

    value: Any
    attribute: ClassVar[str]
    needs: ClassVar[Needs] = REMIX
    master: ClassVar[bool] = False  # whether the master has this value

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.track is None and not self.master:
            raise ValueError(f"the master has no {self.attribute}; give {type(self).__name__} a track's index")


@dataclass(frozen=True)
class SetGain(StripValue):
    value: float
    attribute: ClassVar[str] = "gain_db"
    master: ClassVar[bool] = True


@dataclass(frozen=True)
class SetPan(StripValue):
    value: float
    attribute: ClassVar[str] = "pan"


@dataclass(frozen=True)
class SetMute(StripValue):
    value: bool
    attribute: ClassVar[str] = "mute"


@dataclass(frozen=True)
class SetSolo(StripValue):
    value: bool
    attribute: ClassVar[str] = "solo"


@dataclass(frozen=True)
class ResetClips(OnStrip):
    """Let a strip's clip light go (it latches once a sample reached full scale): a click on the light."""


@dataclass(frozen=True)
class SendValue(OnStrip):
    """Set one value of a strip's send to the bus named ``to`` (``attribute`` on the send): new gains only.

    Adding or removing a send, or moving it between pre- and post-fader, changes the graph: that is a
    :class:`Sync`.
    """

    to: str
    value: Any
    attribute: ClassVar[str]
    needs: ClassVar[Needs] = REMIX

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.track is None:
            raise ValueError(f"the master has no sends; give {type(self).__name__} a track's index or a BusRow")
        if not isinstance(self.to, str) or not self.to:
            raise TypeError(f"{type(self).__name__} names the bus the send feeds; got {self.to!r}")


@dataclass(frozen=True)
class SetSendLevel(SendValue):
    value: float
    attribute: ClassVar[str] = "level_db"


@dataclass(frozen=True)
class SetSendMute(SendValue):
    value: bool
    attribute: ClassVar[str] = "muted"


@dataclass(frozen=True)
class SetParameter(OnSlot):
    """Set a plug-in parameter; the callback applies it at its next block (nothing rebuilt)."""

    name: str
    value: object
    path: tuple[int, ...] = ()


@dataclass(frozen=True)
class Bypass(OnSlot):
    value: bool
    path: tuple[int, ...] = ()
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class Mix(OnSlot):
    """A slot's wet/dry mix, 0.0 (dry) to 1.0 (wet)."""

    value: float
    path: tuple[int, ...] = ()
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class BranchLevel(OnSlot):
    """The level in dB of branch ``branch`` (0, 1, ...) of the split slot at ``slot`` (-inf: silent)."""

    branch: int
    level_db: float
    path: tuple[int, ...] = ()  # the split is inside another's branch: (branch, slot, ...) from ``slot``
    needs: ClassVar[Needs] = REBUILD

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_index("a branch", self.branch, master=False)


@dataclass(frozen=True)
class AddSlot(OnStrip):
    """Insert plug-in ``plugin`` (a name ``rackhost plugins`` lists) at ``index`` (None: last), with ``values``."""

    plugin: str
    index: int | None = None
    values: Mapping[str, object] = field(default_factory=dict)
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class RemoveSlot(OnSlot):
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class MoveSlot(OnSlot):
    to: int
    needs: ClassVar[Needs] = REBUILD


# -- writing automation ------------------------------------------------------------------


@dataclass(frozen=True)
class EnvelopeRef:
    """An envelope of a strip by what it moves, as a session file names it: the strip's ``control`` (gain_db,
    pan, mute), a ``slot`` (its place in the chain from 0; with ``path``, (branch, slot) pairs, a plug-in inside
    the split there, as :class:`SetParameter` names it) with a ``parameter`` (a name or ``_mix``), or a ``send``
    (by the bus it feeds)."""

    control: str | None = None
    slot: int | None = None
    parameter: str | None = None
    send: str | None = None
    path: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        given = [name for name in ("control", "slot", "send") if getattr(self, name) is not None]
        if len(given) != 1 or (self.slot is None) != (self.parameter is None):
            raise ValueError(f"an EnvelopeRef names one target: control=, slot= with parameter=, or send=; "
                             f"got {self!r}")
        if self.slot is not None:
            _check_index("an EnvelopeRef's slot", self.slot, master=False)
        if self.path and (self.slot is None or len(self.path) % 2):
            raise ValueError(f"an EnvelopeRef's path goes with a slot, as (branch, slot) pairs; got {self!r}")

    def target(self, strip: Any) -> Any:
        """The :mod:`rackhost.chain.automation` target this names on ``strip``."""
        from rackhost.chain.automation import SendTarget, SlotTarget, StripTarget

        if self.control is not None:
            return StripTarget(self.control)  # type: ignore[arg-type]
        if self.send is not None:
            for send in getattr(strip, "sends", ()):
                if send.bus == self.send:
                    return SendTarget(send)
            raise EngineCommandError(f"no send to {self.send!r} on this strip; the send was removed, or the "
                                     f"engine has not synced it yet")
        slots = strip.chain.slots
        if self.slot >= len(slots):  # type: ignore[operator]
            raise EngineCommandError(f"no slot {self.slot} in a chain of {len(slots)}; the slot was removed, or "
                                     f"the engine has not synced it yet")
        if not self.path:
            return SlotTarget(slots[self.slot], self.parameter)  # type: ignore[index, arg-type]
        from rackhost.chain.chain import item_at
        from rackhost.errors import SessionError

        try:
            return SlotTarget(item_at(strip.chain, (self.slot, *self.path)), self.parameter)  # type: ignore
        except SessionError as err:
            raise EngineCommandError(f"{err}; the engine has not synced the edit yet") from None

    @classmethod
    def of(cls, strip: Any, target: Any) -> EnvelopeRef:
        """The reference to ``target`` (an automation target) on ``strip``."""
        from rackhost.chain.automation import SendTarget, SlotTarget

        if isinstance(target, SlotTarget):
            from rackhost.chain.chain import path_of

            place = path_of(strip.chain, target.slot)
            if place is None:
                raise StopIteration  # as a search of the chain ends: the slot left it (callers expect this)
            return cls(slot=place[0], parameter=target.parameter, path=place[1:])
        if isinstance(target, SendTarget):
            return cls(send=target.send.bus)
        return cls(control=target.control)


@dataclass(frozen=True)
class Release(OnStrip):
    """The window let go of a control (mouse up): a touch write on its envelope ends, the envelope plays again."""

    target: EnvelopeRef


@dataclass(frozen=True)
class SetAutomationMode(OnStrip):
    """An envelope's mode: ``read``, ``touch``, ``latch`` or ``off`` (a window keeps it in the session instead,
    and sends a :class:`Sync`)."""

    target: EnvelopeRef
    mode: str
    needs: ClassVar[Needs] = REBUILD

    def __post_init__(self) -> None:
        super().__post_init__()
        from rackhost.chain.automation import MODES

        if self.mode not in MODES:
            raise ValueError(f"unknown automation mode {self.mode!r}; use one of {', '.join(MODES)}")


# -- the whole session ------------------------------------------------------------------


@dataclass(frozen=True)
class Sync(Command):
    """Make the engine's session match ``document`` (after a structural edit, an undo, a preset load).

    The engine keeps the plug-in instances it already runs and loads only new ones.
    """

    document: dict
    needs: ClassVar[Needs] = REBUILD


# -- MIDI -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MidiLearn(Command):
    """Bind the next controller that moves to ``target`` (the audio thread sees the armed learn at its next block)."""

    target: MappingTarget
    minimum: float | None = None
    maximum: float | None = None
    curve: str = "linear"
    fourteen_bit: bool = False


@dataclass(frozen=True)
class MidiCancelLearn(Command):
    pass


@dataclass(frozen=True)
class MidiMap(Command):
    """Add a controller mapping (refused if its target does not exist). Not the session's ``MidiMap`` table."""

    mapping: CCMapping
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class MidiUnmap(Command):
    mapping: CCMapping
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class MidiProgram(Command):
    """Program ``program`` on ``channel`` recalls ``preset`` ("stage/name") on ``track`` (None: the master)."""

    channel: int
    program: int
    track: int | None
    preset: str
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class MidiUnprogram(Command):
    """Forget a program change (on ``track`` only; None: on every track and the master)."""

    channel: int
    program: int
    track: int | None = None
    needs: ClassVar[Needs] = REBUILD


# -- the spectrum view -------------------------------------------------------------------


@dataclass(frozen=True)
class SetAudition(OnStrip):
    """Play a strip's chain (a track's, a bus's or the master's), its input (bypass-compare) or the delta, at
    the measured matching offset; crossfaded at the next block (nothing rebuilt). See
    :class:`rackhost.chain.audition.Audition`."""

    side: str = "chain"  # "chain", "input", or "other" (the inactive A/B setting; needs runs_other)
    match: bool = True
    delta: bool = False
    offsets: tuple[float | None, float | None] = (None, None)  # the A and the B setting's matching gain (None:
    # not measured yet, played at 0 dB)
    # Run the inactive A/B setting beside the chain (a blind test between A and B). Turning it on or off
    # rebuilds the track's audio path once; switching sides after that is a crossfade.
    runs_other: bool = False
    compare_slot: int | None = None  # the other side is the chain with this slot bypassed, not the B setting
    other_offset: float | None = None  # that side's matching gain

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compare_slot is not None:
            _check_index("SetAudition's compare_slot", self.compare_slot, master=False)
        if self.side not in ("chain", "input", "other"):
            raise ValueError(f"SetAudition's side must be 'chain', 'input' or 'other'; got {self.side!r}")
        if self.side == "other" and not self.runs_other:
            raise ValueError("SetAudition's side 'other' plays the inactive A/B setting: send runs_other=True")
        if self.delta and self.side != "chain":
            raise ValueError(f"SetAudition's delta plays what the chain changes, so it cannot be on with side "
                             f"{self.side!r}; send side='chain' with it (or delta=False)")


@dataclass(frozen=True)
class SetSlotDelta(OnSlot):
    """Play what a slot changes (its output minus its latency-aligned input) instead of its output, or not.
    See :attr:`rackhost.chain.chain.Slot.delta`."""

    value: bool
    path: tuple[int, ...] = ()
    needs: ClassVar[Needs] = REBUILD


@dataclass(frozen=True)
class WatchSpectrum(OnStrip):
    """Tap a track (an index), a bus (a :class:`BusRow`) or the master (None) before and after its chain for the
    spectrum view."""


@dataclass(frozen=True)
class UnwatchSpectrum(Command):
    """No spectrum view is open: the audio callback stops tapping any strip."""


@dataclass(frozen=True)
class ListenForMatch(OnStrip):
    """Keep the last ``seconds`` of what a strip plays, both sides (its latency-aligned input and its chain's
    output), in the shared memory block named ``memory`` that the parent made
    (:func:`rackhost.live.match_tap.tap_bytes` long), for matching from what plays; the parent reads and measures
    it (:meth:`rackhost.live.process.EngineProcess.match_from_playing`)."""

    memory: str
    seconds: float

    def __post_init__(self) -> None:
        super().__post_init__()
        check_seconds(self.seconds)


@dataclass(frozen=True)
class StopListening(OnStrip):
    """Stop keeping what a strip plays for matching (:class:`ListenForMatch`)."""


def command_types() -> list[type[Command]]:
    """Every command a parent can send (the bases left out)."""
    bases = {Command, OnStrip, OnSlot, StripValue, SendValue}
    found, todo = [], list(Command.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo += cls.__subclasses__()
        if cls not in bases:
            found.append(cls)
    return found


# -- what a command names, in a session ----------------------------------------------------


def owner(session: Any, track: int | BusRow | None) -> Any:
    """The track at index ``track`` of ``session``, the bus a :class:`BusRow` names, or its master for None."""
    if track is None:
        return session.master
    if isinstance(track, BusRow):
        if track.index >= len(session.busses):
            raise EngineCommandError(f"no bus {track.index} in the engine's session, which has "
                                     f"{len(session.busses)}; the bus was removed, or the engine has not synced "
                                     f"it yet")
        return session.busses[track.index]
    if track >= len(session.tracks):
        raise EngineCommandError(f"no track {track} in the engine's session, which has {len(session.tracks)}; "
                                 f"the track was removed, or the engine has not synced it yet")
    return session.tracks[track]


def strip_ref(session: Any, strip: Any) -> int | BusRow | None:
    """How a command names ``strip`` of ``session``: a track's index, a :class:`BusRow`, None for the master."""
    if strip is session.master:
        return None
    for k, track in enumerate(session.tracks):
        if track is strip:
            return k
    for k, bus in enumerate(session.busses):
        if bus is strip:
            return BusRow(k)
    raise EngineCommandError(f"{getattr(strip, 'name', strip)!r} is not a strip of the engine's session")


# A strip as it is known across edits: ("track", name), ("bus", name), or None for the master. An index names
# another strip once tracks are moved or removed; the name is what a resync (Sync) carries a strip's state by.
StripKey = tuple[str, str] | None


def strip_key(session: Any, track: int | BusRow | None) -> StripKey:
    """``track`` (an index, a :class:`BusRow`, None: the master) of ``session``, by its kind and name."""
    strip = owner(session, track)
    return None if track is None else ("bus" if isinstance(track, BusRow) else "track", strip.name)


def find_strip(session: Any, key: StripKey) -> tuple[bool, int | BusRow | None]:
    """(found, where the strip ``key`` names is in ``session`` now: an index, a :class:`BusRow`, None)."""
    if key is None:
        return True, None
    kind, name = key
    strips = session.tracks if kind == "track" else session.busses
    for k, strip in enumerate(strips):
        if strip.name == name:
            return True, (k if kind == "track" else BusRow(k))
    return False, None


def chain_of(session: Any, track: int | BusRow | None) -> Any:
    """The chain of a track (an index), a bus (a :class:`BusRow`) or the master (None)."""
    return owner(session, track).chain


def slot_of(session: Any, track: int | BusRow | None, slot: int) -> Any:
    """Slot ``slot`` of a track's (or the master's) chain, or an error naming the strip and how many it has."""
    chain = chain_of(session, track)
    if slot >= len(chain):
        kind = "bus" if isinstance(track, BusRow) else "track"
        where = "the master" if track is None else f"{kind} {owner(session, track).name!r}"
        raise EngineCommandError(f"{where} has no slot {slot} (its chain has {len(chain)}); "
                                 f"the slot was removed, or the engine has not synced it yet")
    return chain[slot]


def item_of(session: Any, track: int | BusRow | None, slot: int, path: tuple[int, ...] = ()) -> Any:
    """Like :func:`slot_of`, reaching down ``path`` ((branch, slot) pairs) into the split at ``slot``."""
    item = slot_of(session, track, slot)
    if not path:
        return item
    from rackhost.chain.chain import item_at
    from rackhost.errors import SessionError

    try:
        return item_at(chain_of(session, track), (slot, *path))
    except SessionError as err:
        raise EngineCommandError(f"{err}; the engine has not synced the edit yet") from None


def plugin_slot_of(session: Any, track: int | BusRow | None, slot: int, path: tuple[int, ...] = ()) -> Any:
    """Like :func:`item_of`, for an operation on a plug-in: a split slot (whose plug-ins sit in its branches) is
    refused by name."""
    item = item_of(session, track, slot, path)
    if not hasattr(item, "plugin"):
        kind = "bus" if isinstance(track, BusRow) else "track"
        where = "the master" if track is None else f"{kind} {owner(session, track).name!r}"
        raise EngineCommandError(f"slot {slot} of {where} is the split {item.name!r}, not a plug-in; "
                                 f"name a plug-in inside it with path=(branch, slot)")
    return item
