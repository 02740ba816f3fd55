"""Automation: envelopes that move a slot's parameter, its wet/dry, a fader, a pan, a send level or a mute over time.

An :class:`Envelope` belongs to a strip (a track, a bus or the master: its
``automation`` list) and names what it moves (its target): a
:class:`SlotTarget` (a parameter of a slot in the strip's chain, or ``_mix``,
the slot's wet/dry), a :class:`StripTarget` (the strip's ``gain_db``, ``pan``
or ``mute``) or a :class:`SendTarget` (one of the strip's sends). Its points
are times in seconds and values in the target's own units (dB, Hz, 0..1...);
each point says how the curve goes on to the next one: ``linear``, ``step``
(holds, then jumps at the next point) or ``smooth`` (an S-curve). Before its
first point an envelope holds the first value, after its last the last.

Targets hold the slot or the send itself, not its place: an envelope follows
its slot when slots are moved, and one whose slot was removed (or is in the
A/B setting not playing) is kept but not played. A slot target may name a
plug-in inside a split's branch (at any depth): it plays while that plug-in
plays (it, and every split around it, not bypassed). How the block engine plays
envelopes is :mod:`rackhost.chain.automated`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal, Protocol, Sequence, Union

from rackhost.atomic import replacing
from rackhost.chain.bus import MAX_SEND_DB, MIN_SEND_DB, Send
from rackhost.chain.chain import Chain, Slot, item_at, parse_slot_path, path_of, path_text
from rackhost.chain.parameters import ParameterInfo
from rackhost.chain.plugin import MissingPlugin
from rackhost.chain.split import Split
from rackhost.errors import ParameterValueError, RackhostError, SessionError, SlotPathError



class Strip(Protocol):
    """What holds envelopes: a track, a bus or the master (a chain, and its ``automation``)."""

    chain: Chain
    automation: list[Envelope]

    @property
    def strip_name(self) -> str: ...

Shape = Literal["linear", "step", "smooth"]
SHAPES: tuple[Shape, ...] = ("linear", "step", "smooth")
StripControl = Literal["gain_db", "pan", "mute"]
STRIP_CONTROLS: tuple[StripControl, ...] = ("gain_db", "pan", "mute")
MIX = "_mix"  # a slot's wet/dry, named as --chain names it
# How playback treats an envelope: read plays it; touch and latch play it until the control is moved while the
# transport plays, then write the moves (touch until the control is let go, latch until the transport stops);
# off leaves it out, so the control's own (static) value plays. See rackhost.chain.writing.
Mode = Literal["read", "touch", "latch", "off"]
MODES: tuple[Mode, ...] = ("read", "touch", "latch", "off")
WRITING_MODES: tuple[Mode, ...] = ("touch", "latch")

# A fader goes from silence (at or below -150 dB, as dsp.db_to_gain reads it) up to +12 dB, what a file or --automate
# may give it; the window's fader stops at +6 dB, and so does its lane (rackhost.gui.automation_lane.lane_range).
FADER_RANGE_DB = (MIN_SEND_DB, 12.0)
SEND_RANGE_DB = (MIN_SEND_DB, MAX_SEND_DB)
# An envelope longer than a day is a typo (milliseconds given as seconds); its frames would not fit the engine's counters.
MAX_TIME_SECONDS = 86400.0


class AutomationError(RackhostError):
    """An envelope that cannot be played: a bad point, a value out of range, or a target the strip does not have."""


@dataclass(frozen=True)
class Point:
    """A point of an envelope: ``time`` in seconds, ``value`` in the target's units, and the shape of the
    segment from here to the next point."""

    time: float
    value: float
    shape: Shape = "linear"


@dataclass(frozen=True)
class SlotTarget:
    """A parameter of a slot's plug-in, or the slot's wet/dry (``parameter="_mix"``, 0 dry .. 1 wet). The slot
    may sit in the strip's chain or inside a split's branch there."""

    slot: Slot  # compared by identity (Slot is eq=False): the envelope follows the slot, wherever it moves
    parameter: str

    def describe(self) -> str:
        return f"{self.slot.name}.{self.parameter}"


@dataclass(frozen=True)
class StripTarget:
    """The strip's own fader (``gain_db``), pan (``pan``, -1..1) or mute (``mute``, 0 or 1)."""

    control: StripControl

    def describe(self) -> str:
        return self.control


@dataclass(frozen=True)
class SendTarget:
    """The level in dB of one of the strip's sends."""

    send: Send

    def describe(self) -> str:
        return f"send to {self.send.bus!r}"


Target = Union[SlotTarget, StripTarget, SendTarget]


@dataclass(eq=False)
class Envelope:
    """A target and its points, in time order. ``points`` is a tuple: an edit replaces it whole (one undo step).
    ``mode``: how live playback treats it (:data:`MODES`); a render plays every envelope but an ``off`` one."""

    target: Target
    points: tuple[Point, ...] = field(default=())
    mode: Mode = "read"

    def __post_init__(self) -> None:
        self.points = tuple(self.points)

    def describe(self) -> str:
        return self.target.describe()


@dataclass(frozen=True)
class ValueRange:
    """What values a target takes: a range in its unit, and whether it only jumps (switches, lists, mutes)."""

    minimum: float
    maximum: float
    unit: str = ""
    discrete: bool = False  # a switch, a list or a mute: every segment is a step, values are whole numbers

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if not math.isfinite(self.minimum):
            return "(any)"
        return f"[{self.minimum:g}, {self.maximum:g}]{unit}"


def value_range(owner: Strip, target: Target) -> ValueRange:
    """The range of ``target`` on ``owner``; :class:`AutomationError` if the strip has no such target."""
    if isinstance(target, StripTarget):
        if target.control == "gain_db":
            return ValueRange(*FADER_RANGE_DB, "dB")
        if target.control == "pan":
            if not hasattr(owner, "pan"):
                raise AutomationError("the master has no pan to automate; automate its gain_db or a slot")
            return ValueRange(-1.0, 1.0)
        if target.control == "mute":
            if not hasattr(owner, "mute"):
                raise AutomationError("the master has no mute to automate; automate its gain_db down to -150 dB")
            return ValueRange(0.0, 1.0, discrete=True)
        raise AutomationError(f"unknown strip control {target.control!r}; automate one of {', '.join(STRIP_CONTROLS)}")
    if isinstance(target, SendTarget):
        if not any(s is target.send for s in getattr(owner, "sends", ())):
            raise AutomationError(f"{strip_name(owner)} has no send to {target.send.bus!r}")
        return ValueRange(*SEND_RANGE_DB, "dB")
    slot = target.slot
    _refuse_split(slot)
    if not any(s is slot for s in owner.chain.plugin_slots()):
        raise AutomationError(f"slot {slot.name!r} is not in the chain of {strip_name(owner)} (nor in a split's "
                              f"branch there)")
    if target.parameter == MIX:
        return ValueRange(0.0, 1.0)
    if isinstance(slot.plugin, MissingPlugin):  # not installed: kept as it was written, played by nothing
        return ValueRange(-math.inf, math.inf)
    return parameter_range(slot, target.parameter)


def _refuse_split(slot: Slot | Split) -> None:
    if isinstance(slot, Split):
        raise AutomationError(f"{slot.name!r} is a split (parallel branches), which has no parameters of its own; "
                              f"automate a plug-in inside one of its branches (by its path, e.g. '0/1/0' for the "
                              f"first plug-in of the second branch of the split at slot 0), or a branch's level by "
                              f"hand")


def parameter_range(slot: Slot, parameter: str) -> ValueRange:
    """The range of one of ``slot``'s plug-in parameters, refusing what cannot be automated."""
    info: ParameterInfo = slot.plugin.info(parameter)  # UnknownParameterError names the valid ones
    name = f"{slot.name}.{parameter}"
    if info.is_output:
        raise AutomationError(f"{name} is a read-only output (a meter) and cannot be automated")
    if info.type == "bool":
        return ValueRange(0.0, 1.0, discrete=True)
    if info.type == "choice":
        return ValueRange(0.0, float(len(info.choices) - 1), "(a choice, by its index from 0)", discrete=True)
    if info.type == "path":
        raise AutomationError(f"{name} is a file and cannot be automated; automate a number, a switch or a list")
    if info.minimum is None or info.maximum is None:
        raise AutomationError(f"{name} has no known range, so it cannot be automated")
    return ValueRange(info.minimum, info.maximum, info.unit, discrete=bool(info.selector))


def check_points(name: str, points: Sequence[Point], valid: ValueRange) -> tuple[Point, ...]:
    """``points`` checked: at least one, times from 0 rising, shapes known, values within ``valid``."""
    if not points:
        raise AutomationError(f"envelope {name} has no points; give at least one (time, value)")
    previous = -math.inf
    out = []
    for i, p in enumerate(points):
        where = f"envelope {name}, point {i + 1} ({_show(p.time)} s, {_show(p.value)})"
        for what, number in (("time", p.time), ("value", p.value)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise AutomationError(f"{where}: the {what} must be a finite number, not {number!r}")
        if not 0.0 <= p.time <= MAX_TIME_SECONDS:
            raise AutomationError(f"{where}: time must be 0..{MAX_TIME_SECONDS:g} s (in seconds from the start)")
        if p.time <= previous:
            raise AutomationError(f"{where}: times must rise from point to point; this one is not after "
                                  f"the one before ({_show(previous)} s)")
        if p.shape not in SHAPES:
            raise AutomationError(f"{where}: unknown shape {p.shape!r}; use one of {', '.join(SHAPES)}")
        slack = 1e-6 * max(1.0, abs(valid.minimum), abs(valid.maximum))
        if not valid.minimum - slack <= p.value <= valid.maximum + slack:
            raise AutomationError(f"{where}: value out of range {valid.text()}")
        if valid.discrete and p.value != round(p.value):
            raise AutomationError(f"{where}: {name} takes whole steps {valid.text()}, not {_show(p.value)}")
        value = min(max(float(p.value), valid.minimum), valid.maximum)
        out.append(Point(float(p.time), value, p.shape))
        previous = p.time
    return tuple(out)


def check_mode(name: str, mode: object) -> Mode:
    """``mode`` if it is one of :data:`MODES`, else :class:`AutomationError` naming them."""
    if mode not in MODES:
        raise AutomationError(f"envelope {name}: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def check_envelope(owner: Strip, envelope: Envelope) -> Envelope:
    """Refuse an envelope whose target ``owner`` lacks or whose points are wrong; returns it with checked points."""
    check_mode(envelope.describe(), envelope.mode)
    try:
        valid = value_range(owner, envelope.target)
    except ParameterValueError as err:
        raise AutomationError(str(err)) from None
    envelope.points = check_points(envelope.describe(), envelope.points, valid)
    return envelope


def strip_name(owner: Strip) -> str:
    return owner.strip_name  # "track 'vox'", "bus 'drums'", "the master" (rackhost.chain.audition.Auditioned)


def find(owner: Strip, target: Target) -> Envelope | None:
    """The strip's envelope on ``target``, if it has one."""
    for envelope in owner.automation:
        if envelope.target == target:
            return envelope
    return None


def write_label(mode: str, names: Iterable[str]) -> str:
    """The undo step's name for a touch or latch pass over the envelopes ``names``."""
    return f"write automation ({mode}) of {', '.join(names)}"


def playing(owner: Strip) -> list[Envelope]:
    """The strip's envelopes that play: not ``off``, their slot in its chain or in a split's branch there (it and
    every split around it not bypassed), their send still there."""
    slots = {id(s) for s in _playing_slots(owner.chain)}
    sends = {id(s) for s in getattr(owner, "sends", ())}
    out = []
    for envelope in owner.automation:
        if envelope.mode == "off":
            continue
        target = envelope.target
        if isinstance(target, SlotTarget) and id(target.slot) not in slots:
            continue
        if isinstance(target, SendTarget) and id(target.send) not in sends:
            continue
        out.append(envelope)
    return out


def _playing_slots(chain: Chain) -> Iterator[Slot]:
    """The plug-in slots that run: not bypassed, nor inside a bypassed split (at any depth)."""
    for item in chain.slots:
        if item.bypass:
            continue
        if isinstance(item, Split):
            for branch in item.branches:
                yield from _playing_slots(branch.chain)  # type: ignore[arg-type]
        else:
            yield item


def slot_target(chain: Chain, slot_ref: str, parameter: str) -> SlotTarget:
    """A target from how a user names it: SLOT is a plug-in's name (found inside split branches too), its place
    in the chain from 1 where a name repeats, or a path into a split as ``rackhost midi map`` writes it (``0/1/0``:
    slot 0 of branch 1 of the split at slot 0, counted from 0); PARAMETER is one of its parameters, or ``_mix``."""
    names = ", ".join(f"{i + 1}: {s.name}" + (f" ({', '.join(inner.name for inner in s.slots())})"
                                               if isinstance(s, Split) else "")
                      for i, s in enumerate(chain.slots)) or "(empty)"
    slot_ref = slot_ref.strip()
    if "/" in slot_ref:
        try:
            path = parse_slot_path(slot_ref)
        except SlotPathError as err:
            raise AutomationError(str(err)) from None
        try:
            slot = item_at(chain, path)
        except SessionError as err:
            raise AutomationError(f"slot path {slot_ref!r}: {err}") from None
    elif slot_ref.isdigit():
        place = int(slot_ref)
        if not 1 <= place <= len(chain.slots):
            raise AutomationError(f"no slot {place} in a chain of {len(chain.slots)}; the chain holds {names}")
        slot = chain.slots[place - 1]
    else:
        everywhere = [chain.slots, list(chain.plugin_slots())]  # the chain's own slots first, then inside splits
        matches: list = []
        for candidates in everywhere:
            matches = [s for s in candidates if s.name == slot_ref] or \
                [s for s in candidates if s.name.lower() == slot_ref.lower()]
            if matches:
                break
        if not matches:
            raise AutomationError(f"no slot named {slot_ref!r} in the chain; it holds {names}")
        if len(matches) > 1:
            paths = [path_of(chain, s) or () for s in matches]
            if all(len(p) == 1 for p in paths):
                places = ", ".join(str(p[0] + 1) for p in paths)
                raise AutomationError(f"{slot_ref!r} is in the chain {len(matches)} times (slots {places}); name the "
                                      f"slot by its place instead, e.g. '{places.split(',')[0]}.{parameter}'")
            places = ", ".join(path_text(p) for p in paths)
            raise AutomationError(f"{slot_ref!r} is in the chain's splits {len(matches)} times (paths {places}); "
                                  f"name the slot by its path instead, e.g. '{path_text(paths[0])}.{parameter}'")
        slot = matches[0]
    parameter = parameter.strip()
    _refuse_split(slot)
    if parameter != MIX:
        parameter_range(slot, parameter)  # UnknownParameterError lists the valid names
    return SlotTarget(slot, parameter)


# -- text: the CLI's T:V,T:V and CSV files -------------------------------------------


def parse_points(text: str, name: str = "envelope") -> tuple[Point, ...]:
    """``"0:0,2:-20"`` (time:value pairs, an optional third field the shape: ``"0:0:step,2:-20"``)."""
    points = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        fields = [f.strip() for f in item.split(":")]
        if len(fields) not in (2, 3):
            raise AutomationError(f"cannot read point {item!r} of {name}; write TIME:VALUE (seconds:value), "
                                  f"optionally :SHAPE ({'/'.join(SHAPES)}), separated by commas")
        points.append(_point(fields, f"point {item!r} of {name}"))
    if not points:
        raise AutomationError(f"{name} has no points; write them as TIME:VALUE,TIME:VALUE (e.g. 0:0,2:-20)")
    return tuple(points)


def _point(fields: list[str], where: str) -> Point:
    try:
        time, value = float(fields[0]), float(fields[1])
    except ValueError:
        raise AutomationError(f"{where}: time and value must be numbers (seconds, and the parameter's units)") \
            from None
    shape = fields[2].lower() if len(fields) > 2 and fields[2] else "linear"
    if shape not in SHAPES:
        raise AutomationError(f"{where}: unknown shape {fields[2]!r}; use one of {', '.join(SHAPES)}")
    return Point(time, value, shape)  # type: ignore[arg-type]


def read_csv(path: str | Path) -> tuple[Point, ...]:
    """An envelope's points from a CSV of ``time,value`` rows (seconds, the target's units), with an optional
    third column ``shape`` and an optional header row; ``#`` starts a comment line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        reason = "it is not a text file" if isinstance(err, UnicodeDecodeError) else (err.strerror or str(err))
        raise AutomationError(f"cannot read envelope file {str(path)!r}: {reason}") from None
    points = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        row = [cell.strip() for cell in row]
        if not row or not any(row) or row[0].startswith("#"):
            continue
        if number == 1 and row[0].lower() in ("time", "t", "seconds", "time_s"):
            continue  # the header
        if len(row) not in (2, 3):
            raise AutomationError(f"envelope file {str(path)!r} line {number}: expected time,value "
                                  f"(optionally ,shape), found {len(row)} columns")
        points.append(_point(row, f"envelope file {str(path)!r} line {number}"))
    if not points:
        raise AutomationError(f"envelope file {str(path)!r} has no points; write rows of time,value")
    return tuple(points)


def csv_text(points: Iterable[Point]) -> str:
    """``points`` as CSV: a ``time,value,shape`` header, then a row per point (read back by :func:`read_csv`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("time", "value", "shape"))
    for p in points:
        writer.writerow((repr(float(p.time)), repr(float(p.value)), p.shape))
    return out.getvalue()


def write_csv(points: Iterable[Point], path: str | Path) -> None:
    """Write ``points`` (or ``envelope.points``) to ``path`` as CSV, atomically."""
    text = csv_text(points)
    with replacing(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _show(number: object) -> str:
    return f"{number:g}" if isinstance(number, float) else repr(number)
