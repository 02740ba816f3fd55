"""``--automate 'SLOT.PARAM=T:V,T:V,...'``: envelopes for a render's chain, typed on the command line or read from a CSV.

SLOT is a plug-in's name as ``--chain`` gives it (or its place in the chain,
from 1, where a name repeats), PARAM one of its parameters or ``_mix`` (the
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
