"""The fader's taper and the meters' scale: pure functions from dB to a place on a strip and back.

A fader spends most of its travel where mixing happens: Ardour's law in dB
(``position = ((dB + 192) / 198) ** 8``, +6 dB at the top) puts 0 dB at 78%
of the travel and the top 40 dB on 88% of it, so the bottom is a short run
down to silence. The meters use the IEC 60268-18 deflection (a dB is
larger near full scale), as Ardour's and most desks' peak meters do. Nothing
here touches a widget: the strip draws with these, tests check them alone.
"""

from __future__ import annotations

import math
from typing import Callable

FADER_MAX_DB = 6.0
FADER_FLOOR_DB = -150.0  # the fader's bottom: silence (db_to_gain reads it as 0); shown as -inf
_SPAN = 198.0
_OFFSET = 192.0  # the law reaches the bottom at -192 dB; the fader stops at its floor a hair above it
_FLOOR_POSITION = ((FADER_FLOOR_DB + _OFFSET) / _SPAN) ** 8
# Scale marks, most important first: a short fader or meter labels those that do not crowd an earlier one.
FADER_TICKS = (0.0, 6.0, -10.0, -20.0, -40.0, -6.0, -3.0, 3.0, -15.0, -30.0, -60.0)
METER_TICKS = (0.0, -10.0, -20.0, -40.0, -6.0, -3.0, -30.0, -60.0, -50.0)
METER_FLOOR_DB = -70.0  # the meter's bottom


def fader_position(db: float) -> float:
    """Where a gain of ``db`` sits on the fader: 0 (the bottom: silence) to 1 (+6 dB); clamped."""
    if math.isnan(db):
        raise ValueError("a fader gain must be a number of dB; got nan")
    if db <= FADER_FLOOR_DB:
        return 0.0
    return ((min(db, FADER_MAX_DB) + _OFFSET) / _SPAN) ** 8


def fader_db(position: float) -> float:
    """The gain in dB at ``position`` (0..1, clamped) on the fader: the bottom is :data:`FADER_FLOOR_DB`."""
    if math.isnan(position):
        raise ValueError("a fader position must be 0..1; got nan")
    if position <= _FLOOR_POSITION:
        return FADER_FLOOR_DB
    position = min(position, 1.0)
    return min(FADER_MAX_DB, position ** 0.125 * _SPAN - _OFFSET)


def fader_text(db: float) -> str:
    """The fader's value as a desk shows it: ``-6.5``, ``+2.0``, ``-inf`` at the bottom."""
    if db <= FADER_FLOOR_DB:
        return "-inf"
    return f"{db:+.1f}" if db > 0.0 else f"{db:.1f}"


def meter_deflection(db: float) -> float:
    """How far a level of ``db`` dBFS lifts a peak meter: 0 (at or below -70) to 1 (0 dBFS and over)."""
    if db < -70.0:
        return 0.0
    if db < -60.0:
        percent = (db + 70.0) * 0.25
    elif db < -50.0:
        percent = (db + 60.0) * 0.5 + 2.5
    elif db < -40.0:
        percent = (db + 50.0) * 0.75 + 7.5
    elif db < -30.0:
        percent = (db + 40.0) * 1.5 + 15.0
    elif db < -20.0:
        percent = (db + 30.0) * 2.0 + 30.0
    elif db < 0.0:
        percent = (db + 20.0) * 2.5 + 50.0
    else:
        percent = 100.0
    return percent / 100.0


def spaced(ticks: tuple[float, ...], y_of: Callable[[float], float], gap: float) -> list[float]:
    """The ticks whose labels fit: each at least ``gap`` pixels from every one kept before it (in order)."""
    kept: list[tuple[float, float]] = []
    for tick in ticks:
        y = y_of(tick)
        if all(abs(y - other) >= gap for _, other in kept):
            kept.append((tick, y))
    return [tick for tick, _ in kept]


def pan_text(pan: float) -> str:
    """A pan as engineers read it: ``C``, ``L30``, ``R100``."""
    percent = round(pan * 100)
    return "C" if percent == 0 else f"{'L' if percent < 0 else 'R'}{abs(percent)}"
