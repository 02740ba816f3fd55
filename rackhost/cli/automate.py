"""``--automate 'SLOT.PARAM=T:V,T:V,...'``: envelopes for a render's chain, typed on the command line or read from a CSV.

SLOT is a plug-in's name as ``--chain`` gives it (found inside split branches
too), its place in the chain from 1 where a name repeats, or a path into a
split as ``rackhost midi map`` writes it (``1/0/0``: slot 0 of branch 0 of the
split at slot 1, counted from 0), PARAM one of its parameters or ``_mix`` (the
slot's wet/dry); the points are TIME:VALUE pairs in seconds and the
parameter's own units, optionally TIME:VALUE:SHAPE (``linear``, ``step``,
``smooth``), or ``@FILE.csv`` for a CSV of ``time,value`` rows.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rackhost.chain.automation import (
    AutomationError,
    Envelope,
    Point,
    check_envelope,
    find,
    parse_points,
    read_csv,
    slot_target,
)
from rackhost.errors import RackhostError

EXAMPLE = "'Gain.gain_db=0:0,2:-20'"


@dataclass(frozen=True)
class AutomateSpec:
    """One ``--automate`` as typed: the slot and parameter named, and the points or the CSV file holding them."""

    text: str
    slot: str
    parameter: str
    points: tuple[Point, ...] = ()
    csv: Path | None = None


def automate_spec(value: str) -> AutomateSpec:
    """An argparse ``type=``: the form is checked while the command line is read, the names once the chain loads."""
    left, equals, right = value.partition("=")
    slot, dot, parameter = left.strip().rpartition(".")
    if not equals or not dot or not slot.strip() or not parameter.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not SLOT.PARAM=TIME:VALUE,...; e.g. --automate {EXAMPLE}")
    right = right.strip()
    if right.startswith("@"):
        if not right[1:].strip():
            raise argparse.ArgumentTypeError(f"{value!r} names no CSV file after '@'; e.g. '{left}=@ride.csv'")
        return AutomateSpec(value, slot.strip(), parameter.strip(), csv=Path(right[1:].strip()))
    try:
        points = parse_points(right, f"--automate {value!r}")
    except AutomationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return AutomateSpec(value, slot.strip(), parameter.strip(), points)


def apply_automation(owner: object, specs: list[AutomateSpec]) -> None:
    """Give ``owner`` (a track) an envelope per spec, checked against its chain: names, values and ranges."""
    for spec in specs:
        try:
            target = slot_target(owner.chain, spec.slot, spec.parameter)  # type: ignore[attr-defined]
            points = read_csv(spec.csv) if spec.csv is not None else spec.points
            envelope = Envelope(target, points)
            if find(owner, target) is not None:  # type: ignore[arg-type]
                raise AutomationError(f"{target.describe()} is automated twice; give one --automate per parameter")
            owner.automation.append(check_envelope(owner, envelope))  # type: ignore[arg-type, attr-defined]
        except RackhostError as err:
            raise AutomationError(f"--automate {spec.text!r}: {err}") from None


# -- --automation-mode: how `rackhost live` plays a session's envelopes ---------------------------


@dataclass(frozen=True)
class ModeSpec:
    """One ``--automation-mode`` as typed: ``MODE`` for every envelope, or ``STRIP.TARGET=MODE`` for one."""

    text: str
    mode: str
    strip: str | None = None  # a track's or bus's name, or "master"; None: every envelope of the session
    target: str | None = None  # gain_db, pan, mute, send:BUS, or SLOT.PARAM


def mode_spec(value: str) -> ModeSpec:
    """An argparse ``type=``: the form and the mode are checked while the command line is read."""
    from rackhost.chain.automation import MODES

    left, equals, right = value.rpartition("=")
    mode = right.strip()
    if mode not in MODES:
        raise argparse.ArgumentTypeError(f"{value!r}: unknown mode {mode!r}; use one of {', '.join(MODES)}, e.g. "
                                         f"--automation-mode 'vox.gain_db=touch' (or 'touch' for every envelope)")
    if not equals:
        return ModeSpec(value, mode)
    strip, dot, target = left.strip().partition(".")
    if not dot or not strip.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not STRIP.TARGET=MODE; e.g. 'vox.gain_db=touch', "
                                         f"'vox.send:verb=latch', 'vox.Gain.gain_db=touch', 'master.gain_db=off'")
    return ModeSpec(value, mode, strip.strip(), target.strip())


def apply_modes(session: object, specs: list[ModeSpec]) -> list[str]:
    """Set the modes ``specs`` name on ``session``'s envelopes; returns a line per envelope changed."""
    from rackhost.chain.automation import STRIP_CONTROLS, SendTarget, StripTarget

    said = []
    for spec in specs:
        strips = [*session.tracks, *session.busses, session.master]  # type: ignore[attr-defined]
        if spec.strip is None:
            envelopes = [(s, e) for s in strips for e in s.automation]
            if not envelopes:
                raise AutomationError(f"--automation-mode {spec.text!r}: the session has no envelopes")
        else:
            strip = _strip_named(session, spec.strip, spec.text)
            target_text = spec.target or ""
            if target_text in STRIP_CONTROLS:
                target = StripTarget(target_text)  # type: ignore[arg-type]
            elif target_text.startswith("send:"):
                bus = target_text[len("send:"):]
                sends = [s for s in getattr(strip, "sends", ()) if s.bus == bus]
                if not sends:
                    raise AutomationError(f"--automation-mode {spec.text!r}: {spec.strip} has no send to {bus!r}")
                target = SendTarget(sends[0])
            else:
                slot, dot, parameter = target_text.rpartition(".")
                if not dot:
                    raise AutomationError(f"--automation-mode {spec.text!r}: {target_text!r} is none of "
                                          f"{', '.join(STRIP_CONTROLS)}, send:BUS or SLOT.PARAM")
                try:
                    target = slot_target(strip.chain, slot, parameter)
                except RackhostError as err:
                    raise AutomationError(f"--automation-mode {spec.text!r}: {err}") from None
            envelope = find(strip, target)
            if envelope is None:
                raise AutomationError(f"--automation-mode {spec.text!r}: {spec.strip} has no envelope on "
                                      f"{target.describe()}; draw one in the window or give the session one")
            envelopes = [(strip, envelope)]
        for strip, envelope in envelopes:
            envelope.mode = spec.mode  # type: ignore[assignment]
            said.append(f"{getattr(strip, 'name', 'master')} {envelope.describe()}: {spec.mode}")
    return said


def _strip_named(session: object, name: str, text: str) -> object:
    if name == "master":
        return session.master  # type: ignore[attr-defined]
    for strip in (*session.tracks, *session.busses):  # type: ignore[attr-defined]
        if strip.name == name:
            return strip
    names = ", ".join(s.name for s in (*session.tracks, *session.busses))  # type: ignore[attr-defined]
    raise AutomationError(f"--automation-mode {text!r}: no track or bus named {name!r} (it has {names}, and "
                          f"the master)")
