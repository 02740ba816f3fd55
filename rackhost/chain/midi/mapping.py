"""MIDI controller mappings, learn, and the program map: what a session's MIDI controller does.

* A :class:`CCMapping` ties a controller (channel 1..16, controller 0..127,
  optionally a 14-bit MSB/LSB pair) to a :class:`MappingTarget`: a slot's
  parameter (a plug-in inside a split's branch too), a track's, bus's or the
  master's gain, pan or mute, or a send's level, through a range and a curve.
* Learn: :meth:`MidiMap.arm_learn` names a target; the next controller that
  moves (:meth:`MidiMap.learn`) is bound to it.
* The program map: a program change on a channel recalls a preset on a track
  or the master (:class:`ProgramEntry`); loading the preset is the caller's
  business (``rackhost.chain`` does not read preset files).

Everything here is plain data plus arithmetic, shared by the live engine (which
resolves mappings into :class:`Binding` objects off the audio thread) and by
offline use (:meth:`MidiMap.apply_cc` on a session).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal, NamedTuple, Protocol, Sequence

from rackhost.errors import MidiMappingError


class MappedSession(Protocol):
    """What a mapping reaches in a session: its tracks and busses, in order, and its master (a Session holds the
    map)."""

    @property
    def tracks(self) -> Sequence[Any]: ...

    @property
    def busses(self) -> Sequence[Any]: ...

    @property
    def master(self) -> Any: ...


Curve = Literal["linear", "log", "exp"]
TargetKind = Literal["parameter", "gain", "pan", "mute", "send"]
CURVES: tuple[str, ...] = ("linear", "log", "exp")
TARGET_KINDS: tuple[str, ...] = ("parameter", "gain", "pan", "mute", "send")
GAIN_RANGE_DB = (-60.0, 6.0)  # a fader's range when a mapping gives none
SEND_RANGE_DB = (-60.0, 6.0)  # a send's level likewise (its slider's travel; its bottom is quiet, not -inf)
PAN_RANGE = (-1.0, 1.0)
GAIN_TRAVEL_DB = (-60.0, 12.0)  # a fader's whole travel, as the window's strips draw it
DROPPED_KEPT = 100  # lines about dropped mappings kept for a window to say


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MidiMappingError(f"{name} must be a whole number {low}..{high}; got {value!r}")
    return value


@dataclass(frozen=True)
class MappingTarget:
    """What a controller moves, on a strip: ``track`` index (None: the master), or ``bus`` (an index in the
    session's busses; ``track`` is then None). On it: a slot's parameter (``slot``, and ``path`` (branch, slot,
    ...) down into the split at ``slot`` for a plug-in in a branch), the strip's gain/pan/mute, or the level of
    its ``send`` to the bus of that name."""

    track: int | None
    kind: TargetKind = "parameter"
    slot: int | None = None
    parameter: str | None = None
    bus: int | None = None
    path: tuple[int, ...] = ()
    send: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise MidiMappingError(f"mapping target kind {self.kind!r} is not one of {', '.join(TARGET_KINDS)}")
        if self.track is not None:
            _check_int("a mapping's track index", self.track, 0, 10_000)
        if self.bus is not None:
            _check_int("a mapping's bus index", self.bus, 0, 10_000)
            if self.track is not None:
                raise MidiMappingError("a mapping names a track or a bus, not both")
        if not isinstance(self.path, tuple):
            object.__setattr__(self, "path", tuple(self.path) if isinstance(self.path, list) else self.path)
        if not isinstance(self.path, tuple) or len(self.path) % 2:
            raise MidiMappingError(f"a mapping's path into a split is (branch, slot) pairs; got {self.path!r}")
        for step in self.path:
            _check_int("a step of a mapping's path into a split", step, 0, 10_000)
        if self.kind == "parameter":
            if self.slot is None or not self.parameter:
                raise MidiMappingError("a parameter mapping names a slot (0, 1, ...) and a parameter name")
            _check_int("a mapping's slot index", self.slot, 0, 10_000)
        elif self.slot is not None or self.parameter is not None or self.path:
            raise MidiMappingError(f"a {self.kind} mapping names no slot or parameter")
        if (self.kind == "send") != (self.send is not None):
            raise MidiMappingError("a send mapping names the bus its send feeds (send=...), and only it does")
        if self.kind == "send" and (not isinstance(self.send, str) or not self.send):
            raise MidiMappingError(f"a send mapping names the bus its send feeds; got {self.send!r}")
        if self.on_master and self.kind in ("pan", "mute", "send"):
            what = "sends" if self.kind == "send" else self.kind
            raise MidiMappingError(f"the master has no {what}; map its gain or a parameter of its chain")

    @property
    def on_master(self) -> bool:
        return self.track is None and self.bus is None

    def owner(self, session: MappedSession) -> Any:
        """The track, bus or master this target belongs to, or a clear error if it is gone."""
        if self.bus is not None:
            busses = getattr(session, "busses", ())
            if self.bus >= len(busses):
                raise MidiMappingError(f"mapping to bus {self.bus + 1}, but the session has {len(busses)}")
            return busses[self.bus]
        if self.track is None:
            return session.master
        if self.track >= len(session.tracks):
            raise MidiMappingError(f"mapping to track {self.track + 1}, but the session has {len(session.tracks)}")
        return session.tracks[self.track]

    def item(self, session: MappedSession) -> Any:
        """The slot this parameter target names (inside a split's branch when it has a path)."""
        from rackhost.chain.chain import item_at
        from rackhost.errors import SessionError

        chain = self.owner(session).chain
        if self.slot is None or self.slot >= len(chain):
            raise MidiMappingError(f"mapping to slot {self.slot} of the {self._where(session)} chain, "
                                   f"which has {len(chain)} slots")
        try:
            return item_at(chain, (self.slot, *self.path))
        except SessionError as err:
            raise MidiMappingError(f"mapping into the {self._where(session)} chain: {err}") from None

    def plugin(self, session: MappedSession) -> Any:
        item = self.item(session)
        if not hasattr(item, "plugin"):  # a split slot: its plug-ins sit in its branches
            raise MidiMappingError(f"slot {self.slot} of the {self._where(session)} chain is the split {item.name!r}, "
                                   f"which has no parameters; map a plug-in in one of its branches")
        return item.plugin

    def send_of(self, session: MappedSession) -> Any:
        """The send this target's level is (a clear error if the strip no longer sends to that bus)."""
        owner = self.owner(session)
        try:
            return owner.send(self.send)
        except KeyError as err:
            raise MidiMappingError(f"mapping to a send of the {self._where(session)}: {err.args[0]}") from None

    def _where(self, session: MappedSession | None) -> str:
        if self.bus is not None:
            busses = getattr(session, "busses", ()) if session is not None else ()
            return f"bus {busses[self.bus].name!r}" if self.bus < len(busses) else f"bus {self.bus + 1}"
        if self.track is None:
            return "master"
        if session is not None and self.track < len(session.tracks):
            return f"track {session.tracks[self.track].name!r}"
        return f"track {self.track + 1}"

    def describe(self, session: MappedSession | None = None) -> str:
        where = self._where(session)
        if self.kind == "send":
            return f"{where} send to {self.send}"
        if self.kind != "parameter":
            return f"{where} {self.kind}"
        name = f"slot {self.slot}" + "".join(f" branch {b + 1} slot {i}" for b, i in zip(self.path[::2],
                                                                                        self.path[1::2]))
        if session is not None:
            try:
                name = self.plugin(session).name
            except MidiMappingError:
                pass
        return f"{where} {name}.{self.parameter}"

    def to_dict(self) -> dict:
        out: dict = {"track": self.track, "kind": self.kind}
        if self.bus is not None:
            out["bus"] = self.bus
        if self.kind == "parameter":
            out.update(slot=self.slot, parameter=self.parameter)
            if self.path:
                out["path"] = list(self.path)
        if self.kind == "send":
            out["send"] = self.send
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> MappingTarget:
        path = doc.get("path") or ()
        return cls(doc.get("track"), doc.get("kind", "parameter"), doc.get("slot"), doc.get("parameter"),
                   doc.get("bus"), tuple(path) if isinstance(path, list) else path, doc.get("send"))


@dataclass(frozen=True)
class CCMapping:
    """A controller moving a target. ``minimum``/``maximum`` None: the target's own range.

    With ``lsb_controller`` (usually ``controller + 32``) the pair is read as
    one 14-bit value: MSB on ``controller``, LSB on ``lsb_controller``.
    """

    channel: int
    controller: int
    target: MappingTarget
    minimum: float | None = None
    maximum: float | None = None
    curve: Curve = "linear"
    lsb_controller: int | None = None

    def __post_init__(self) -> None:
        _check_int("a MIDI channel", self.channel, 1, 16)
        _check_int("a controller number", self.controller, 0, 127)
        if self.lsb_controller is not None:
            _check_int("a 14-bit pair's LSB controller", self.lsb_controller, 0, 127)
            if self.lsb_controller == self.controller:
                raise MidiMappingError("a 14-bit pair needs two different controllers (MSB and LSB)")
        if self.curve not in CURVES:
            raise MidiMappingError(f"curve {self.curve!r} is not one of {', '.join(CURVES)}")
        for bound in (self.minimum, self.maximum):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))
                                      or not math.isfinite(bound)):
                raise MidiMappingError(f"a mapping's range takes numbers; got {bound!r}")

    @property
    def fourteen_bit(self) -> bool:
        return self.lsb_controller is not None

    def describe(self, session: MappedSession | None = None) -> str:
        cc = f"CC {self.controller}" + (f"/{self.lsb_controller} (14-bit)" if self.fourteen_bit else "")
        return f"channel {self.channel} {cc} -> {self.target.describe(session)}"

    def to_dict(self) -> dict:
        out: dict = {"channel": self.channel, "controller": self.controller, "target": self.target.to_dict(),
                     "curve": self.curve}
        if self.minimum is not None or self.maximum is not None:
            out["range"] = [self.minimum, self.maximum]
        if self.lsb_controller is not None:
            out["lsb_controller"] = self.lsb_controller
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> CCMapping:
        low, high = doc.get("range") or (None, None)
        return cls(doc.get("channel"), doc.get("controller"), MappingTarget.from_dict(doc.get("target") or {}),
                   low, high, doc.get("curve", "linear"), doc.get("lsb_controller"))


def shape(fraction: float, curve: str, low: float, high: float) -> float:
    """``fraction`` (0..1) to a value in [low, high] along ``curve``.

    linear: even steps. exp: slow at first, fast at the end; between two
    positive bounds it moves by equal ratios (right for Hz and ms). log: fast
    at first, slow at the end.
    """
    f = min(max(fraction, 0.0), 1.0)
    if curve == "exp":
        if low > 0 and high > 0:
            return low * (high / low) ** f
        f = (10.0 ** f - 1.0) / 9.0
    elif curve == "log":
        f = math.log10(1.0 + 9.0 * f)
    return low + (high - low) * f


def unshape(value: float, curve: str, low: float, high: float) -> float:
    """The inverse of :func:`shape`: where a value sits on the controller, 0..1."""
    if high == low:
        return 0.0
    if curve == "exp" and low > 0 and high > 0:
        f = math.log(max(value, 1e-30) / low) / math.log(high / low)
    else:
        f = (value - low) / (high - low)
        if curve == "exp":
            f = math.log10(max(9.0 * f + 1.0, 1e-30))
        elif curve == "log":
            f = (10.0 ** f - 1.0) / 9.0
    return min(max(f, 0.0), 1.0)


def position(mapping: CCMapping, session: MappedSession) -> float:
    """Where the target stands now, as a controller position 0..1 (for feedback to motorized faders and LEDs)."""
    target = mapping.target
    owner = target.owner(session)
    if target.kind == "mute":
        return 1.0 if owner.mute else 0.0
    if target.kind in ("gain", "pan", "send"):
        low, high = _strip_range(mapping)
        return unshape(current_value(target, session), mapping.curve, low, high)
    plugin = target.plugin(session)
    info = plugin.info(target.parameter)
    value = plugin.get(target.parameter)
    if info.type == "bool":
        return 1.0 if value else 0.0
    if info.type == "choice":
        return (info.choices.index(value) + 0.5) / len(info.choices) if value in info.choices else 0.0
    low = info.minimum if mapping.minimum is None else mapping.minimum
    high = info.maximum if mapping.maximum is None else mapping.maximum
    return unshape(float(value), mapping.curve, low, high)


def cc_messages(mapping: CCMapping, fraction: float) -> list[bytes]:
    """The control-change messages that put a controller at ``fraction`` (MSB then LSB for a 14-bit pair)."""
    status = 0xB0 | (mapping.channel - 1)
    if mapping.lsb_controller is None:
        return [bytes((status, mapping.controller, int(round(fraction * 127))))]
    value = int(round(fraction * 16383))
    return [bytes((status, mapping.controller, value >> 7)), bytes((status, mapping.lsb_controller, value & 0x7F))]


def check_range(target: MappingTarget, minimum: float | None, maximum: float | None,
                session: MappedSession) -> None:
    """Refuse a mapping range the target cannot take (a range left out is the target's own, always fine).

    A controller mapped to ``5..10`` on a -80..0 dB threshold would only ever set 0 dB:
    refused when the mapping is made, naming the range the target has.
    """
    if minimum is None and maximum is None:
        return
    if minimum is None or maximum is None:
        raise MidiMappingError("give a mapping's range as both ends (LOW and HIGH), or neither")
    if minimum == maximum:
        raise MidiMappingError(f"range {minimum:g}..{maximum:g} is one value, so the controller would move nothing; "
                               f"give two different ends")
    if target.kind == "mute":
        raise MidiMappingError("mute is on or off and takes no range; leave the range out")
    if target.kind in ("gain", "pan", "send"):
        (low, high), unit = (PAN_RANGE, "") if target.kind == "pan" else (GAIN_TRAVEL_DB, " dB")
        what = f"{target.describe(session)}"
    else:
        plugin = target.plugin(session)
        try:
            info = plugin.info(target.parameter)
        except Exception as err:  # noqa: BLE001 - UnknownParameterError, said as a mapping problem
            raise MidiMappingError(f"{target.describe(session)}: {err}") from None
        if info.type != "float" or info.minimum is None or info.maximum is None:
            if info.type in ("bool", "choice"):
                kind = "switch" if info.type == "bool" else "choice"
                raise MidiMappingError(f"{plugin.name}.{info.name} is a {kind} and takes no range; "
                                       f"leave the range out")
            return  # a number with no known range: nothing to hold the range against
        low, high, unit = info.minimum, info.maximum, f" {info.unit}" if info.unit else ""
        what = f"{plugin.name}.{info.name}"
    for bound in (minimum, maximum):
        if not low <= bound <= high:
            raise MidiMappingError(f"range {minimum:g}..{maximum:g} is outside {what}'s range "
                                   f"{low:g}..{high:g}{unit}; give ends within it "
                                   f"(or leave the range out for all of it)")


def _strip_range(mapping: CCMapping) -> tuple[float, float]:
    """A gain's, pan's or send level's range: the mapping's, else the control's own."""
    kind = mapping.target.kind
    default = GAIN_RANGE_DB if kind == "gain" else SEND_RANGE_DB if kind == "send" else PAN_RANGE
    low = default[0] if mapping.minimum is None else mapping.minimum
    high = default[1] if mapping.maximum is None else mapping.maximum
    return low, high


def resolve(mapping: CCMapping, session: MappedSession) -> tuple[Callable[[float], Any], Any]:
    """``(convert, info)``: a function from a controller fraction to the target's value, and the parameter info.

    For a parameter: numbers follow the range and curve; a switch is on above
    half way; a choice picks evenly along its list. Gain is in dB, pan -1..1,
    mute on above half way.
    """
    target = mapping.target
    target.owner(session)  # a clear error if the track is gone
    if target.kind == "mute":
        return (lambda f: f >= 0.5), None
    if target.kind == "send":
        target.send_of(session)  # a clear error if the send is gone
    if target.kind in ("gain", "pan", "send"):
        low, high = _strip_range(mapping)
        return (lambda f: shape(f, mapping.curve, low, high)), None
    plugin = target.plugin(session)
    try:
        info = plugin.info(target.parameter)
    except Exception as err:  # noqa: BLE001 - UnknownParameterError, said as a mapping problem
        raise MidiMappingError(f"mapping {mapping.describe(session)}: {err}") from None
    if info.is_output:
        raise MidiMappingError(f"{plugin.name}.{info.name} is a read-only output (a meter); map a control instead")
    if info.type == "bool":
        return (lambda f: f >= 0.5), info
    if info.type == "choice":
        choices = info.choices
        return (lambda f: choices[min(len(choices) - 1, int(f * len(choices)))]), info
    if info.type != "float":
        raise MidiMappingError(f"{plugin.name}.{info.name} is a {info.type} and cannot follow a controller")
    low = info.minimum if mapping.minimum is None else mapping.minimum
    high = info.maximum if mapping.maximum is None else mapping.maximum
    if low is None or high is None:
        raise MidiMappingError(f"{plugin.name}.{info.name} has no range: give the mapping a range")
    lo, hi = (info.minimum, info.maximum) if info.minimum is not None else (-math.inf, math.inf)
    return (lambda f: min(max(shape(f, mapping.curve, low, high), lo), hi)), info


@dataclass(frozen=True)
class ProgramEntry:
    """A program change (0..127) on a channel (1..16) recalls ``preset`` ("stage/name") on a track or the master."""

    channel: int
    program: int
    track: int | None
    preset: str

    def __post_init__(self) -> None:
        _check_int("a MIDI channel", self.channel, 1, 16)
        _check_int("a program number", self.program, 0, 127)
        if self.track is not None:
            _check_int("a program entry's track index", self.track, 0, 10_000)
        if not isinstance(self.preset, str) or not self.preset:
            raise MidiMappingError(f"a program entry names a preset (stage/name); got {self.preset!r}")

    def to_dict(self) -> dict:
        return {"channel": self.channel, "program": self.program, "track": self.track, "preset": self.preset}

    @classmethod
    def from_dict(cls, doc: dict) -> ProgramEntry:
        return cls(doc.get("channel"), doc.get("program"), doc.get("track"), doc.get("preset"))


@dataclass(frozen=True)
class LearnRequest:
    """An armed learn: the target and how the mapping it makes will scale."""

    target: MappingTarget
    minimum: float | None = None
    maximum: float | None = None
    curve: Curve = "linear"
    fourteen_bit: bool = False


@dataclass(eq=False)
class MidiMap:
    """A session's controller mappings and program map, and the learn state (not saved)."""

    mappings: list[CCMapping] = field(default_factory=list)
    programs: list[ProgramEntry] = field(default_factory=list)
    learning: LearnRequest | None = None
    # A line for each mapping an edit dropped (its slot removed), until a window takes them to say (not saved).
    dropped: list[str] = field(default_factory=list, init=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.mappings or self.programs or self.learning)

    def say_dropped(self, lines: Sequence[str]) -> None:
        """Keep ``lines`` (mappings an edit dropped) for :meth:`take_dropped`; the last few only, if none takes
        them (a script)."""
        self.dropped.extend(lines)
        del self.dropped[:-DROPPED_KEPT]

    def take_dropped(self) -> list[str]:
        """The lines :meth:`say_dropped` kept since the last call, oldest first."""
        lines, self.dropped = self.dropped, []
        return lines

    # -- mappings ---------------------------------------------------------------------

    def add(self, mapping: CCMapping) -> CCMapping:
        """Add a mapping; one already moving the same target from the same controller is replaced."""
        self.mappings = [m for m in self.mappings
                         if not ((m.channel, m.controller, m.target) == (mapping.channel, mapping.controller,
                                                                          mapping.target))]
        self.mappings.append(mapping)
        return mapping

    def remove(self, mapping: CCMapping | int) -> CCMapping:
        index = mapping if isinstance(mapping, int) else self.mappings.index(mapping)
        return self.mappings.pop(index)

    def remove_target(self, target: MappingTarget) -> list[CCMapping]:
        """Drop every mapping to ``target`` (its slot was removed, say); returns them."""
        gone = [m for m in self.mappings if m.target == target]
        self.mappings = [m for m in self.mappings if m.target != target]
        return gone

    def for_controller(self, channel: int, controller: int) -> list[CCMapping]:
        """Mappings moved by this controller (as the MSB or the LSB of a 14-bit pair)."""
        return [m for m in self.mappings if m.channel == channel and controller in (m.controller, m.lsb_controller)]

    def for_target(self, target: MappingTarget) -> list[CCMapping]:
        return [m for m in self.mappings if m.target == target]

    # -- learn --------------------------------------------------------------------------

    def arm_learn(self, target: MappingTarget, *, minimum: float | None = None, maximum: float | None = None,
                  curve: Curve = "linear", fourteen_bit: bool = False) -> LearnRequest:
        """The next controller that moves will be bound to ``target``."""
        if curve not in CURVES:
            raise MidiMappingError(f"curve {curve!r} is not one of {', '.join(CURVES)}")
        self.learning = LearnRequest(target, minimum, maximum, curve, fourteen_bit)
        return self.learning

    def cancel_learn(self) -> None:
        self.learning = None

    def learn(self, channel: int, controller: int) -> CCMapping | None:
        """Bind the armed target to this controller; None if nothing is armed.

        With ``fourteen_bit`` armed, a controller 0..31 becomes the MSB of a pair
        whose LSB is ``controller + 32`` (the MIDI convention).
        """
        request = self.learning
        if request is None:
            return None
        lsb = None
        if request.fourteen_bit and controller < 32:
            lsb = controller + 32
        elif request.fourteen_bit and 32 <= controller < 64:  # the LSB arrived first
            controller, lsb = controller - 32, controller
        mapping = CCMapping(channel, controller, request.target, request.minimum, request.maximum, request.curve, lsb)
        self.learning = None
        return self.add(mapping)

    # -- program map -------------------------------------------------------------------

    def set_program(self, channel: int, program: int, track: int | None, preset: str) -> ProgramEntry:
        """Program ``program`` on ``channel`` recalls ``preset`` on ``track`` (None: master); replaces the old entry."""
        entry = ProgramEntry(channel, program, track, preset)
        self.programs = [p for p in self.programs if (p.channel, p.program, p.track) != (channel, program, track)]
        self.programs.append(entry)
        return entry

    def remove_program(self, channel: int, program: int, track: int | None = None) -> list[ProgramEntry]:
        """Remove the entries for this program (on ``track`` only, if given); returns them."""
        gone = [p for p in self.programs if (p.channel, p.program) == (channel, program)
                and (track is None or p.track == track)]
        self.programs = [p for p in self.programs if p not in gone]
        return gone

    def programs_for(self, channel: int, program: int) -> list[ProgramEntry]:
        return [p for p in self.programs if (p.channel, p.program) == (channel, program)]

    # -- applying to a session (offline, or from a control thread) ---------------------

    def apply_cc(self, session: MappedSession, channel: int, controller: int, value: int,
                 pairs: dict[tuple[int, int], int] | None = None) -> list[tuple[CCMapping, Any]]:
        """Set what this controller is mapped to, in the session model; returns (mapping, value) pairs.

        ``pairs`` keeps the last MSB/LSB of 14-bit controllers between calls.
        """
        pairs = {} if pairs is None else pairs
        pairs[(channel, controller)] = value
        done = []
        for mapping in self.for_controller(channel, controller):
            fraction = cc_fraction(mapping, pairs)
            convert, _ = resolve(mapping, session)
            done.append((mapping, apply_value(mapping.target, session, convert(fraction))))
        return done

    # -- keeping up with edits ----------------------------------------------------------

    def anchor(self, session: MappedSession) -> list[Anchor]:
        """Remember what each mapping points at (the strip, and its slot or send objects); see :meth:`follow`."""
        anchors = []
        for mapping in self.mappings:
            target = mapping.target
            try:
                owner = target.owner(session)
                slot = target.item(session) if target.kind == "parameter" else \
                    target.send_of(session) if target.kind == "send" else None
            except (MidiMappingError, IndexError):
                owner = slot = None
            around = tuple(owner.chain.plugin_slots()) if target.kind == "parameter" and owner is not None else ()
            anchors.append(Anchor(mapping, owner, slot, getattr(slot, "name", "") if slot is not None else "",
                                  around))
        return anchors

    def follow(self, anchors: list[Anchor], session: MappedSession) -> list[str]:
        """After tracks or slots moved, were added or removed: point each mapping at where its target went.

        A plug-in's mapping follows its slot wherever it went: within its chain,
        into or out of a split, to another track, bus or the master. A slot that is
        gone keeps its mappings only if its chain was replaced (a preset recalled, an
        A/B switch) and the same plug-in stands at the same place in the new one;
        the others are dropped (never handed to a neighbour of the same name).
        Mappings an edit already re-pointed or dropped since ``anchors`` were taken
        (the editor's slot edits do) are left as they are. Returns a line for each mapping dropped.
        """
        followed, dropped = self.followed(anchors, session)
        kept = (followed.get(id(m), m) for m in self.mappings)
        self.mappings = [m for m in kept if m is not None]
        return dropped

    def followed(self, anchors: list[Anchor], session: MappedSession) -> tuple[dict[int, CCMapping | None],
                                                                               list[str]]:
        """What :meth:`follow` makes of each anchored mapping still in the map (by ``id``; None: dropped), and a
        line for each dropped; the map itself is not changed."""
        from rackhost.chain.chain import item_at
        from rackhost.errors import SessionError

        dropped: list[str] = []
        out: dict[int, CCMapping | None] = {}
        present = {id(m) for m in self.mappings}
        for mapping, owner, slot, plugin_name, around in anchors:
            if id(mapping) not in present:
                continue  # re-pointed or removed by the edit itself
            target = mapping.target
            out[id(mapping)] = mapping
            if owner is None:
                continue  # it pointed at nothing before the edit: leave it as it was
            if target.kind == "parameter" and slot is not None:
                found = _find_slot(session, slot)  # moved anywhere: in its chain, into a split, to another strip
                if found is not None:
                    (track, bus), path = found
                    out[id(mapping)] = _pointed(mapping, replace(target, track=track, bus=bus, slot=path[0],
                                                                                path=path[1:]))
                    continue
            place = _place(session, owner)
            if place is None:
                out[id(mapping)] = None
                dropped.append(f"{mapping.describe()}: its {'bus' if target.bus is not None else 'track'} "
                               f"was removed")
                continue
            track, bus = place
            if target.kind == "send":
                if slot not in owner.sends:
                    out[id(mapping)] = None
                    dropped.append(f"{mapping.describe()}: its send was removed")
                    continue
                out[id(mapping)] = _pointed(mapping, replace(target, track=track, bus=bus, send=slot.bus))
                continue
            if slot is not None:
                try:
                    standing = item_at(owner.chain, (target.slot, *target.path))
                except SessionError:
                    standing = None
                # A new slot of the same plug-in at the same place: its chain was replaced (a preset, A/B).
                # One that was in the chain already is another slot, which the mapping never moved.
                if standing is None or standing.name != plugin_name or any(standing is s for s in around):
                    out[id(mapping)] = None
                    dropped.append(f"{mapping.describe()}: its {plugin_name} slot was removed")
                    continue
            out[id(mapping)] = _pointed(mapping, replace(target, track=track, bus=bus))
        return out, dropped

    # -- files ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"mappings": [m.to_dict() for m in self.mappings], "programs": [p.to_dict() for p in self.programs]}

    @classmethod
    def from_dict(cls, doc: dict) -> MidiMap:
        """Raises :class:`MidiMappingError` naming the entry at fault."""
        out = cls()
        for key, kind in (("mappings", CCMapping), ("programs", ProgramEntry)):
            entries = doc.get(key, [])
            if not isinstance(entries, list):
                raise MidiMappingError(f"{key}: expected a list")
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    raise MidiMappingError(f"{key}[{i}]: expected an object")
                try:
                    made = kind.from_dict(entry)
                except MidiMappingError as err:
                    raise MidiMappingError(f"{key}[{i}]: {err}") from None
                getattr(out, key).append(made)
        return out

    def copy(self) -> MidiMap:
        return replace(self, mappings=list(self.mappings), programs=list(self.programs))


class Anchor(NamedTuple):
    """Where a mapping pointed when :meth:`MidiMap.anchor` was called: its strip, its slot (or send), that
    slot's plug-in name, and every plug-in slot of the strip then."""

    mapping: CCMapping
    owner: Any
    slot: Any
    plugin_name: str
    around: tuple[Any, ...]


def _pointed(mapping: CCMapping, target: MappingTarget) -> CCMapping:
    """``mapping`` at ``target``: the same object if that is where it points already."""
    return mapping if mapping.target == target else replace(mapping, target=target)


def _place(session: MappedSession, owner: Any) -> tuple[int | None, int | None] | None:
    """A strip as a target names it: (track index, None), (None, bus index), (None, None) for the master; None if
    the session no longer has it."""
    if owner is session.master:
        return None, None
    track = next((i for i, t in enumerate(session.tracks) if t is owner), None)
    if track is not None:
        return track, None
    bus = next((i for i, b in enumerate(getattr(session, "busses", ())) if b is owner), None)
    return None if bus is None else (None, bus)


def _find_slot(session: MappedSession, slot: Any) -> tuple[tuple[int | None, int | None], tuple[int, ...]] | None:
    """The strip (as :func:`_place` names it) and the path where ``slot`` itself plays now, in any strip's
    chain; None if it plays nowhere."""
    from rackhost.chain.chain import path_of

    strips = [*session.tracks, *getattr(session, "busses", ()), session.master]
    for strip in strips:
        path = path_of(strip.chain, slot)
        if path is not None:
            place = _place(session, strip)
            assert place is not None
            return place, path
    return None


def cc_fraction(mapping: CCMapping, pairs: dict[tuple[int, int], int]) -> float:
    """The controller's position 0..1 (7-bit, or 14-bit from the last MSB and LSB seen)."""
    msb = pairs.get((mapping.channel, mapping.controller), 0)
    if mapping.lsb_controller is None:
        return msb / 127.0
    lsb = pairs.get((mapping.channel, mapping.lsb_controller), 0)
    return (msb * 128 + lsb) / 16383.0


def current_value(target: MappingTarget, session: MappedSession) -> Any:
    """What the target stands at in the session model (a parameter's value, a gain or send level in dB, ...)."""
    if target.kind == "parameter":
        return target.plugin(session).get(target.parameter)
    if target.kind == "send":
        return target.send_of(session).level_db
    return getattr(target.owner(session), "gain_db" if target.kind == "gain" else target.kind)


def apply_value(target: MappingTarget, session: MappedSession, value: Any) -> Any:
    """Set a target in the session model (from a control thread, never the audio thread); returns the value set."""
    owner = target.owner(session)
    if target.kind == "parameter":
        return target.plugin(session).set(target.parameter, value)
    if target.kind == "send":
        from rackhost.chain.bus import check_send_level

        send = target.send_of(session)
        send.level_db = check_send_level(send.bus, float(value))
        return send.level_db
    if target.kind == "gain":
        owner.gain_db = float(value)
    elif target.kind == "pan":
        owner.pan = float(value)
    else:
        owner.mute = bool(value)
    return value
