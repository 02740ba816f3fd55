"""Writing automation: a pass of control moves turned into an envelope's points.

A pass is what a touch or latch write heard: from the first move, the
control's value held from move to move (a fader dragged, a knob turned, a
controller ridden), until the pass ends (the control let go, or the transport
stopped). :func:`written_points` puts it into the envelope's points in place
of what the envelope said over the same stretch of time: the envelope plays
as before up to the pass, then the written values, then returns to the
envelope. The moves are thinned first (:func:`thin`, Ramer-Douglas-Peucker on
(time, value), with the error measured in the target's own units), so a 10 s
ride keeps the points its shape needs, not one per move.

Pure functions on :class:`~rackhost.chain.automation.Point` tuples: the live
engine records the moves on its control thread (:mod:`rackhost.live.writer`)
and commits the result as one undo step.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rackhost.chain.automation import Point, Shape, ValueRange
from rackhost.errors import SessionError

DB_TOLERANCE = 0.1  # dB: less than the ear tells apart on a fader ride
RANGE_TOLERANCE = 0.001  # of the target's range, for anything not in dB
# A touch let go glides back to its envelope over this long by default (Session.automation_glide), as a
# console's "auto match" does: no click where the hand left the value and the envelope said another.
GLIDE_SECONDS = 0.25
MAX_GLIDE_SECONDS = 10.0


def check_glide(seconds: object) -> float:
    """A touch's glide time in seconds, as a session keeps it; :class:`SessionError` names a bad one."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            math.isfinite(seconds) and 0.0 <= seconds <= MAX_GLIDE_SECONDS):
        raise SessionError(f"automation glide {seconds!r} s is outside 0..{MAX_GLIDE_SECONDS:g} s; "
                           f"use 0 for no glide, or e.g. 0.25")
    return float(seconds)


def write_tolerance(valid: ValueRange) -> float:
    """How far (in the target's units) the thinned points may stray from the moves they stand for."""
    if valid.discrete:
        return 0.5  # whole steps: a point stays wherever the value changes
    if valid.unit == "dB":
        return DB_TOLERANCE
    if not (math.isfinite(valid.minimum) and math.isfinite(valid.maximum)):
        return RANGE_TOLERANCE
    return RANGE_TOLERANCE * (valid.maximum - valid.minimum)


def thin(times: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, tolerance: float) -> np.ndarray:
    """The indices of the points to keep (first and last always) so that straight lines between them pass within
    ``tolerance`` of every value, measured along the value axis (Ramer-Douglas-Peucker). ``times`` must rise."""
    t = np.asarray(times, np.float64)
    v = np.asarray(values, np.float64)
    n = len(t)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        inner = t[i + 1 : j]
        line = v[i] + (v[j] - v[i]) * ((inner - t[i]) / (t[j] - t[i]))
        error = np.abs(v[i + 1 : j] - line)
        k = int(np.argmax(error))
        if error[k] > tolerance:
            middle = i + 1 + k
            keep[middle] = True
            stack += [(i, middle), (middle, j)]
    return np.flatnonzero(keep)


def value_at(points: Sequence[Point], seconds: float, discrete: bool = False) -> float:
    """The envelope ``points`` at ``seconds`` (as the engine plays them, between its frames)."""
    i = bisect.bisect_right([p.time for p in points], seconds) - 1
    if i < 0:
        return points[0].value
    if i == len(points) - 1:
        return points[i].value
    here, after = points[i], points[i + 1]
    if discrete or here.shape == "step":
        return here.value
    u = (seconds - here.time) / (after.time - here.time)
    if here.shape == "smooth":
        u = u * u * (3.0 - 2.0 * u)
    return here.value + (after.value - here.value) * u


def _shape_at(points: Sequence[Point], seconds: float) -> Shape:
    before = [p for p in points if p.time <= seconds]
    return before[-1].shape if before else "linear"


@dataclass(frozen=True)
class Segment:
    """One unbroken stretch of a pass: ``moves`` ((seconds, value), in time order; each value held until the
    next) and ``end``, when the value last held stopped playing (the envelope takes over there).

    ``glide`` (a touch let go, :data:`GLIDE_SECONDS`): (seconds, value) where a straight line from the value held
    at ``end`` meets the envelope again, instead of the one-frame jump back; the envelope's own points before it
    give way to the line."""

    moves: tuple[tuple[float, float], ...]
    end: float
    glide: tuple[float, float] | None = None


def written_points(points: Sequence[Point], segments: Sequence[Segment], tolerance: float, gap: float,
                   discrete: bool = False) -> tuple[Point, ...]:
    """``points`` with each segment of a pass written over them, in order (a later one over an earlier one, as
    when a loop goes round). ``gap``: one frame in seconds, the width of the jump into and out of a segment."""
    out = tuple(points)
    for segment in segments:
        out = _write(out, segment, tolerance, gap, discrete)
    return out


def _write(points: tuple[Point, ...], segment: Segment, tolerance: float, gap: float,
           discrete: bool) -> tuple[Point, ...]:
    moves: dict[float, float] = {}
    for seconds, value in segment.moves:
        moves[seconds] = value  # several moves in one block: the last one played
    if not moves:
        return points
    end = segment.end
    times = [t for t in sorted(moves) if t < end]  # a move at the end itself was never played
    if not times:
        return points  # let go before a block played it: nothing was heard
    start = times[0]
    shape: Shape = "step" if discrete else "linear"
    anchor = start - gap
    kept = [p for p in points if p.time < anchor]
    if anchor >= 0.0 and points:  # the envelope plays up to the frame before the first move
        kept.append(Point(anchor, value_at(points, anchor, discrete), "step" if discrete else
                          _shape_at(points, anchor)))
    values = [moves[t] for t in times]
    glide = segment.glide if points and not discrete else None
    hold = end if glide is not None else end - gap  # a glide starts from the value held at the end
    if hold > times[-1]:
        times.append(hold)
        values.append(values[-1])
    if discrete:
        chosen = [k for k in range(len(values)) if k == 0 or values[k] != values[k - 1]]
    else:
        chosen = thin(times, values, tolerance).tolist()
    written = [Point(times[k], values[k], shape) for k in chosen]
    if not points:
        return tuple(written)
    if glide is not None:
        meet, value = glide
        back = Point(meet, value, _shape_at(points, meet))
        return tuple(kept + written + [back] + [p for p in points if p.time > meet])
    back = Point(end, value_at(points, end, discrete), "step" if discrete else _shape_at(points, end))
    return tuple(kept + written + [back] + [p for p in points if p.time > end])
