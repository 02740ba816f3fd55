"""Playing envelopes in the block engine: the same code offline and live, driven by the transport position.

Plug-in parameters and wet/dry (:class:`StageAutomation`): only a stage
holding an automated slot is touched (:meth:`Chain.processor` gives each such
slot a stage of its own, inside a split's branch too: the split's stage then
hands its branches the transport position, :class:`BranchesRun`). Its block or
segment is cut where a point falls
(exactly, to the sample) and, where a value is moving, on a grid of
:data:`GRID` transport frames; the values are set between the pieces. A piece
never crosses a block boundary, so a render cut into 16,384-frame segments and
a live engine handed 128-frame blocks call the plug-in on the same pieces and
give the same samples. Where nothing moves in a block, it runs whole.
A built-in Compressor whose threshold alone moves is not cut at all
(:class:`CompressorThreshold`): its threshold is played at every sample by
scaling what the compressor gives at a lower one.

Faders, pans, mutes, send levels and the master's gain (:class:`Fade`) are
gains the mixer multiplies by anyway: an automated one becomes a gain per
sample, computed with numpy for the whole segment, so it costs no cut at all.

Each thing is read at its own place in time: a stage after a latent plug-in,
a fader after the delay compensation, the master after the slowest track,
all read their envelopes ``lag`` frames earlier, so what the envelope says at
time t happens to the audio that was at time t in the source.

Everything a callback calls here follows the real-time rules of
:mod:`rackhost.live.callback` apart from numpy's temporaries.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pedalboard

from rackhost.chain import builtins
from rackhost.chain.automation import (
    MIX,
    Envelope,
    SendTarget,
    SlotTarget,
    Strip,
    StripTarget,
    playing,
    value_range,
)
from rackhost.chain.chain import Chain, ChainProcessor, Slot, Stage
from rackhost.chain.plugin import MissingPlugin
from rackhost.chain.sidechain import twin_of
from rackhost.chain.split import Split, SplitStage

# The finest step a moving value takes, in frames: 0.67 ms at 48 kHz.
GRID = 32

LINEAR, STEP, SMOOTH = 0, 1, 2
_SHAPE_CODES = {"linear": LINEAR, "step": STEP, "smooth": SMOOTH}


class Glide:
    """A touch let go (:mod:`rackhost.live.writer`): from envelope frame ``hold`` the value held goes on
    (``source``) until ``start``, then goes in a straight line to ``target`` (the envelope's value at ``end``),
    exactly as the written points ``(start, source)``, ``(end, target)`` play it once committed. ``frames``: the
    curve's points and the glide's ends, where a stage may cut.

    The writer starts the line a block after the release it hears of, so a block the callback plays meanwhile
    (still holding) never makes the line start with a jump."""

    __slots__ = ("hold", "start", "end", "source", "target", "frames")

    def __init__(self, hold: int, start: int, end: int, source: float, target: float, points: np.ndarray):
        self.hold, self.start, self.end, self.source, self.target = hold, start, end, source, target
        self.frames = np.union1d(points, np.array([start, end], np.int64))


class Curve:
    """An envelope in frames at one sample rate, evaluated many frames at a time.

    ``steps``: the values a stepped parameter can hold (sorted); a value read is
    the nearest of them, as when the parameter is set by hand, so a slow ramp
    moves the plug-in only when it reaches the next step (ZamCompX2's
    threshold moves in 0.08 dB steps), and costs a cut only then.
    """

    __slots__ = ("frames", "values", "shapes", "last", "steps", "held", "glide", "_frame_list", "_value_list",
                 "_shape_list")

    def __init__(self, envelope: Envelope, sample_rate: float, discrete: bool = False,
                 steps: Sequence[float] = ()):
        frames: list[int] = []
        values: list[float] = []
        shapes: list[int] = []
        for p in envelope.points:
            frame = int(round(p.time * sample_rate))
            if frames and frame == frames[-1]:  # closer than a sample: the later point wins
                frames.pop(), values.pop(), shapes.pop()
            frames.append(frame)
            values.append(p.value)
            shapes.append(STEP if discrete else _SHAPE_CODES[p.shape])
        self.frames = np.array(frames, np.int64)
        self.values = np.array(values, np.float64)
        self.shapes = np.array(shapes, np.int8)
        self.last = len(frames) - 1
        # The same, as Python lists: constant() runs for every automated control every block, and a bisect on a
        # list costs a fraction of a numpy call on an array this small.
        self._frame_list, self._value_list, self._shape_list = frames, [float(v) for v in self.values], shapes
        self.steps = np.array(steps, np.float64) if len(steps) > 1 else None
        # A control held by a touch or latch write (rackhost.live.writer): played instead of the points. The
        # control thread sets it by one assignment; a renderer reads it once per call.
        self.held: float | None = None
        # A touch let go glides back to the points (set once by the control thread, after which held goes None)
        # until the state prepared from the committed points replaces this curve.
        self.glide: Glide | None = None

    @property
    def cuts(self) -> np.ndarray:
        """The frames where the value may jump or turn: its points, and a glide's ends."""
        glide = self.glide
        return self.frames if glide is None else glide.frames

    def at(self, frames: np.ndarray) -> np.ndarray:
        """The value at each of ``frames`` (int64): held before the first point and after the last."""
        held = self.held
        if held is not None:
            values = np.full(len(frames), held)
        else:
            values = self._at(frames)
            glide = self.glide
            if glide is not None:
                inside = (frames >= glide.hold) & (frames < glide.end)
                if inside.any():  # the same expression as a linear segment of _at: live == the committed points
                    u = np.maximum(frames - glide.start, 0) / max(glide.end - glide.start, 1)
                    values = np.where(inside, glide.source + (glide.target - glide.source) * u, values)
        return values if self.steps is None else self._nearest_step(values)

    def _nearest_step(self, values: np.ndarray) -> np.ndarray:
        steps = self.steps
        above = np.clip(np.searchsorted(steps, values), 1, len(steps) - 1)  # type: ignore[arg-type]
        below = above - 1
        return np.where(values - steps[below] <= steps[above] - values, steps[below], steps[above])  # type: ignore

    def _at(self, frames: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.frames, frames, side="right") - 1
        here = np.clip(i, 0, self.last)
        values = self.values[here]
        if not self.last:
            return values
        after = np.minimum(here + 1, self.last)
        start = self.frames[here]
        span = self.frames[after] - start
        moving = (i >= 0) & (i < self.last) & (self.shapes[here] != STEP)
        if not moving.any():
            return values
        u = np.where(moving, (frames - start) / np.maximum(span, 1), 0.0)
        u = np.where(self.shapes[here] == SMOOTH, u * u * (3.0 - 2.0 * u), u)
        return values + (self.values[after] - values) * u

    def segment(self, frame: int) -> int:
        """The index of the point at or before ``frame`` (-1 before the first): its segment runs to the next point."""
        return bisect.bisect_right(self._frame_list, frame) - 1

    def flat(self, segment: int) -> float | None:
        """The value all along ``segment`` if it holds still (before the first point, after the last, a step, two
        equal points), else None. The points alone: not what a touch holds."""
        values = self._value_list
        here = values[max(segment, 0)]
        if segment < 0 or segment == self.last or self._shape_list[segment] == STEP or values[segment + 1] == here:
            return here
        return None

    def rise_into(self, out: np.ndarray, start: int, segment: int, floor: float, scale: float,
                  offsets: np.ndarray) -> None:
        """``scale * (value - floor)`` at frames ``start`` .. ``start + len(out) - 1`` of moving ``segment`` into
        ``out`` (float64): three numpy calls where :meth:`at` makes a dozen. ``offsets``: 0.0, 1.0, 2.0 ...

        Each value depends on its frame alone, not on where the stretch starts (a frame's distance from the
        point is exact in float64), so any cutting into blocks gives the same values."""
        frames, values = self._frame_list, self._value_list
        first, span = frames[segment], frames[segment + 1] - frames[segment]
        here, slope = values[segment], scale * (values[segment + 1] - values[segment])
        np.add(offsets[: len(out)], float(start - first), out=out)  # frames since the point
        if self._shape_list[segment] == SMOOTH:
            out /= span
            out[...] = out * out * (3.0 - 2.0 * out)
            out *= slope
        else:
            out *= slope / span
        out += scale * (here - floor)

    def constant(self, start: int, end: int) -> float | None:
        """The value if it does not change over frames ``start`` .. ``end - 1``, else None."""
        held = self.held
        if held is not None:
            return held if self.steps is None else float(self._nearest_step(np.array([held]))[0])
        glide = self.glide
        if glide is not None and start < glide.end and end > glide.hold:
            if start < glide.hold or end > glide.start:
                return None
            held = glide.source  # still held: the line starts later
            return held if self.steps is None else float(self._nearest_step(np.array([held]))[0])
        frames = self._frame_list
        i = bisect.bisect_right(frames, start) - 1
        j = bisect.bisect_right(frames, end - 1) - 1
        if i != j:
            return None
        values = self._value_list
        if i < 0:
            value = values[0]
        elif i == self.last or self._shape_list[i] == STEP or values[i] == values[i + 1]:
            value = values[i]
        else:
            return None
        return value if self.steps is None else float(self._nearest_step(np.array([value]))[0])


# -- plug-in parameters -----------------------------------------------------------------


Setter = Callable[[float], None]


def parameter_setter(slot: Slot, parameter: str, mix: object | None) -> Setter:
    """What sets ``parameter`` of ``slot`` on every instance of its plug-in from a value in its own units.

    Built-ins are set as attributes (a fraction of a microsecond). External plug-ins are set by their
    raw value, as the plug-in itself reads the value's text: pedalboard's attribute setter searches
    its parameters on every call (about 100 microseconds a value, measured with ZamCompX2).
    """
    if parameter == MIX:
        return mix.set  # type: ignore[union-attr]
    plugin = slot.plugin
    info = plugin.info(parameter)
    twin = twin_of(plugin) if slot.key is not None else None
    if twin is not None:  # a keyed slot runs its minihost twin: the envelope sets that, in the plug-in's units
        if info.type == "choice":
            return lambda value: twin.set(parameter, info.choices[int(value)])
        return lambda value: twin.set(parameter, 1.0 if info.type == "bool" and value >= 0.5 else float(value))
    instances = plugin.instances
    if plugin.is_builtin:
        if info.type == "choice":
            members = [builtins.enum_value(instances[0], parameter, c) for c in info.choices]

            def set_choice(value: float) -> None:
                member = members[int(value)]
                for inst in instances:
                    setattr(inst, parameter, member)

            return set_choice
        convert: Callable[[float], object] = (lambda v: v >= 0.5) if info.type == "bool" else float

        def set_builtin(value: float) -> None:
            native = convert(value)
            for inst in instances:
                setattr(inst, parameter, native)

        return set_builtin
    wrapped = instances[0].parameters[parameter]
    cpp_name = wrapped.name
    if info.type == "choice":
        raws = [wrapped.get_raw_value_for(c) for c in info.choices]

        def raw_of(value: float) -> float:
            return raws[int(value)]
    elif info.type == "bool":
        def raw_of(value: float) -> float:
            return 1.0 if value >= 0.5 else 0.0
    else:
        parse = instances[0]._get_parameter(cpp_name).get_raw_value_for_text
        # The plug-in's reading of each value's text, kept for a stepped parameter (ZamCompX2's threshold): it plays
        # the same few hundred values again and again (a curve reads the nearest step), and reading one costs more
        # than setting it.
        known: dict[float, float] | None = {} if len(info.steps) > 1 else None

        def raw_of(value: float) -> float:
            if known is None:
                return parse(repr(value))
            raw = known.get(value)
            if raw is None:
                raw = parse(repr(value))
                if value:  # 0.0 and -0.0 are one key but two texts
                    known[value] = raw
            return raw

    # The plug-in owns its parameters for its lifetime; a snapshot is rebuilt whenever a plug-in is replaced.
    targets = [inst._get_parameter(cpp_name) for inst in instances]

    def set_external(value: float) -> None:
        raw = raw_of(value)
        for target in targets:
            target.raw_value = raw

    return set_external


class _Changes:
    """A stage's values worked out for transport frames ``first`` .. ``last - 1``: the frames where one of them
    changes (``frames``, ``first`` always among them) and the values from each on (``rows``, one per curve).

    The values are read at the frames where the block engine may cut (the :data:`GRID`, the block boundaries,
    every point) and held between them; a value that does not move costs nothing, so a stepped parameter on a
    slow ramp (ZamCompX2's threshold in 0.08 dB steps) changes every few hundred frames, not every 32."""

    __slots__ = ("key", "first", "last", "frames", "rows")

    def __init__(self, key: tuple, first: int, last: int, frames: list[int], rows: list[list[float]]):
        self.key, self.first, self.last, self.frames, self.rows = key, first, last, frames, rows


# Transport frames of changes a stage works out at a time, at least; or this many of the blocks (segments) it is
# handed, whichever is longer. A render's segments then cost one working-out in four.
PLAN_FRAMES = 8192
LOOKAHEAD = 4


class StageAutomation:
    """Plays one stage's envelopes: cuts its block where they move and sets their values between the pieces."""

    __slots__ = ("curves", "setters", "lag", "block", "current", "buffer", "statics", "stage", "width_in", "sized",
                 "span", "changes")

    def __init__(self, curves: Sequence[Curve], setters: Sequence[Setter], lag: int, block: int, width: int,
                 max_segment: int, statics: Sequence[Callable[[], None]] = (), stage: Stage | None = None,
                 width_in: int = 2, sized: Callable[[np.ndarray, int], np.ndarray] | None = None, stagger: int = 0):
        self.stage = stage
        self.width_in = width_in
        self.curves = tuple(curves)
        self.setters = tuple(setters)
        self.lag = lag  # frames of latency before this stage: it reads its envelopes that much earlier
        self.block = block
        self.current: list[float | None] = [None] * len(self.curves)  # what each parameter was last set to
        self.buffer = np.zeros((width, max_segment), np.float32)
        self.statics = tuple(statics)  # put the model's own values back after a render
        # The plug-in alone called with a chunk size (pedalboard cuts a call into chunks of that many frames), where
        # that is the stage; None: each piece is a call of its own. See run().
        self.sized = sized
        # Changes worked out ahead (each stage's stretch a little longer than the next one's, as the fades' are).
        self.span = PLAN_FRAMES + GRID * (stagger % 64)
        self.changes: _Changes | None = None

    def run(self, stage: Stage, block: np.ndarray, position: int) -> np.ndarray:
        """``block`` through ``stage``, cut where a value changes and at every block boundary.

        A live engine calls the stage once per block, and once more for every change inside it; a render gets
        the same pieces, so the same samples, however its segments are cut. Pieces with no change between them
        may still go in one call, where pedalboard itself cuts the call where the pieces meet: whole blocks
        after a block boundary, and (``sized``) the piece before a boundary with the one after it, pedalboard
        told to cut the call into chunks as long as the first piece."""
        n = block.shape[1]
        end = position + n
        size = self.block
        changes = self._changes(position, end, n)
        frames, rows = changes.frames, changes.rows
        i = bisect.bisect_right(frames, position) - 1
        j = bisect.bisect_left(frames, end, i + 1)
        self._set(rows[i])
        if j == i + 1 and (end <= position + size - position % size or self._steady(position, end)):
            return stage(block)  # nothing changes (or moves) in it: one call, which pedalboard cuts into blocks
        sized, current = self.sized, self.current
        setter = self.setters[0] if len(self.setters) == 1 else None
        out = None
        at = position  # where the next call starts; the values there are set
        k = i + 1  # the next change
        while at < end:
            upto = frames[k] if k < j else end  # the next change, or the block's end
            phase = at % size
            boundary = at - phase + size
            chunk = 0
            if upto <= boundary:
                stop = upto
            elif not phase:  # whole blocks up to the next change, which pedalboard cuts into the blocks
                stop = upto if sized is not None else boundary  # (a stage of its own may cut them otherwise)
            else:
                after = upto if upto < boundary + size else boundary + size  # the piece after the boundary
                if sized is not None and after - boundary <= boundary - at:
                    stop, chunk = after, boundary - at
                else:
                    stop = boundary
            lo, hi = at - position, stop - position
            piece = sized(block[:, lo:hi], chunk) if chunk else stage(block[:, lo:hi])  # type: ignore[misc]
            if out is None:
                out = self.buffer[: piece.shape[0], :n]
            out[:, lo:hi] = piece
            at = stop
            if k < j and at == frames[k]:
                row = rows[k]
                if setter is None:
                    self._set(row)
                elif row[0] != current[0]:
                    setter(row[0])
                    current[0] = row[0]
                k += 1
        return out  # type: ignore[return-value]

    def _steady(self, position: int, end: int) -> bool:
        """Every value holds still from ``position`` to ``end`` (not merely the steps it plays)."""
        lag = self.lag
        return all(curve.constant(position - lag, end - lag) is not None for curve in self.curves)

    def _changes(self, position: int, end: int, n: int) -> _Changes:
        """The changes worked out over ``position`` .. ``end - 1`` at least; ``position`` must be a frame they were
        read at (a new stretch starts there if it is not: a live transport moved by hand)."""
        key = tuple((c.held, id(c.glide)) for c in self.curves)  # a touch or latch holds some of them
        changes = self.changes
        if (changes is None or changes.key != key or position < changes.first or end > changes.last
                or (position % GRID and position % self.block and position != changes.first)):
            # A held value may move at the next block: then no further than the block.
            span = n if any(held is not None for held, _ in key) else max(n, self.span, LOOKAHEAD * n)
            changes = self.changes = self._work_out(position, position + span, key)
        return changes

    def _work_out(self, first: int, last: int, key: tuple) -> _Changes:
        """Where the values change over ``first`` .. ``last - 1``: read at every frame the block engine may cut
        at (``first`` itself, the grid, block boundaries, every point), kept where one differs from the last."""
        lag = self.lag
        cuts = np.arange(-(-first // GRID) * GRID, last, GRID, dtype=np.int64)
        parts = [frames[(frames > first) & (frames < last)] for frames in (c.cuts + lag for c in self.curves)]
        if first % GRID or self.block % GRID or any((part % GRID).any() for part in parts):
            parts += [cuts, np.array([first], np.int64),
                      np.arange(-(-first // self.block) * self.block, last, self.block, dtype=np.int64)]
            cuts = sorted_unique(np.concatenate(parts))
        # else the grid holds them all: the block boundaries, ``first`` and every point
        values = np.stack([curve.at(cuts - lag) for curve in self.curves])
        keep = np.empty(len(cuts), bool)
        keep[0] = True
        np.any(values[:, 1:] != values[:, :-1], axis=0, out=keep[1:])
        return _Changes(key, first, last, cuts[keep].tolist(), values[:, keep].T.tolist())

    def _set(self, values: list[float]) -> None:
        current = self.current
        for k, value in enumerate(values):
            if value != current[k]:
                self.setters[k](value)
                current[k] = value

    def restore(self) -> None:
        for put_back in self.statics:
            put_back()

    def prime(self) -> None:
        """Run one block of silence through the stage, just after a reset, before it is handed any piece.

        pedalboard prepares a plug-in for the length of the first call after a
        reset, and prepares it again (which resets it: a compressor forgets its
        gain reduction) when a longer call comes. Silence after a reset leaves
        the state as it was, and the plug-in prepared for whole blocks.
        """
        if self.stage is not None:
            self.stage(np.zeros((self.width_in, self.block), np.float32))


# JUCE's dsp::Compressor turns its threshold into a gain with decibelsToGain(dB, -200): at or below -200 dB the
# threshold is 0 and silence comes out as NaN (measured with pedalboard 0.9.26), so no reconstruction below it.
THRESHOLD_FLOOR_DB = -200.0
_DB_TO_LOG = math.log(10.0) / 20.0


class CompressorThreshold(StageAutomation):
    """Plays an envelope on a built-in ``Compressor``'s threshold (and nothing else on it) at every sample, in one
    plug-in call per block (two where a point falls inside it): no 32-sample cuts.

    JUCE's ``dsp::Compressor`` follows each channel's level with attack and
    release, whatever the threshold (``env``), and multiplies each sample by
    ``1`` below the threshold T, by ``(env / T) ** (1 / ratio - 1)`` above it.
    Run with a threshold T0 at or below every T asked for, it gives
    ``y0 = g0 * x``; then for T, ``g = min(1, g0 * k)`` with
    ``k = (T / T0) ** (1 - 1 / ratio)`` (>= 1), so the output is ``y0 * k``
    where ``|y0 * k| <= |x|`` and ``x`` elsewhere, to float32 rounding.

    Each stretch of the envelope between two points runs on its own: a
    moving one with T0 its lower end, a still one as the plain compressor at
    its value. What a sample gets then depends on its frame alone, not on
    where blocks are cut, so live and offline give the same bits. A touch
    (live) runs its whole block with T0 the lowest value it asks for. The
    ratio is read from the plug-in per block (it may be set by hand meanwhile).
    The slot's wet/dry, when it has one (not automated), is applied here as
    its stage would.
    """

    __slots__ = ("compressor", "process", "mix", "offsets", "rise", "k", "magnitude", "level", "louder")

    def __init__(self, curve: Curve, setter: Setter, lag: int, block: int, width: int, max_segment: int,
                 statics: Sequence[Callable[[], None]], stage: Stage, width_in: int,
                 compressor: object, process: Stage, mix: object | None):
        super().__init__([curve], [setter], lag, block, width, max_segment, statics, stage, width_in)
        self.compressor = compressor
        self.process = process  # the plug-in alone, without the slot's wet/dry
        self.mix = mix
        longest = max(block, max_segment)
        self.offsets = np.arange(longest, dtype=np.float64)  # made now, not per block
        self.rise = np.empty(longest, np.float64)
        self.k = np.empty(longest, np.float32)
        # |out|, |in| and which is louder, per sample: made now, not per block (a render's are 128 kB each)
        self.magnitude = np.empty((width, longest), np.float32)
        self.level = np.empty((width_in, longest), np.float32)
        self.louder = np.empty((width, longest), bool)

    def run(self, stage: Stage, block: np.ndarray, position: int) -> np.ndarray:
        curve = self.curves[0]
        n = block.shape[1]
        start = position - self.lag
        # JUCE's own float32 arithmetic: ratioInverse = 1 / ratio, the exponent ratioInverse - 1.
        power = float(np.float32(1.0) - np.float32(1.0) / np.float32(self.compressor.ratio))  # type: ignore
        if curve.held is not None or curve.glide is not None:
            wet = self._touched(block, start, power)
            if wet is None:
                return super().run(stage, block, position)
        else:
            first, last = curve.segment(start), curve.segment(start + n - 1)
            out = self.buffer[:, :n]
            if first == last:
                wet = self._stretch(block, start, first, power, out)
            else:
                at = start
                for segment in range(first, last + 1):
                    upto = min(int(curve.frames[segment + 1]), start + n) if segment < last else start + n
                    piece = slice(at - start, upto - start)
                    wet = self._stretch(block[:, piece], at, segment, power, out[:, piece])
                    if wet.base is not self.buffer:  # the plug-in's own output (a still segment)
                        out[:, piece] = wet
                    at = upto
                wet = out
        mix = self.mix
        if mix is None:
            return wet
        return wet * mix.wet + block * mix.dry  # type: ignore[attr-defined]

    def _stretch(self, block: np.ndarray, start: int, segment: int, power: float, out: np.ndarray) -> np.ndarray:
        """``block``, frames ``start`` .. of one segment of the envelope, through the compressor; ``out``: where
        the result goes if it is worked out here (a still segment hands back the plug-in's own output)."""
        if power <= 0.0:  # at 1:1 nothing is compressed, whatever the threshold
            return self.process(block)
        curve = self.curves[0]
        value = curve.flat(segment)
        if value is not None:
            self._set([value])
            return self.process(block)
        values = curve.values
        t0 = float(min(values[segment], values[segment + 1]))
        self._set([t0])
        wet = self.process(block)
        rise = self.rise[: block.shape[1]]
        curve.rise_into(rise, start, segment, t0, power * _DB_TO_LOG, self.offsets)
        return self._follow(wet, block, rise, out)

    def _touched(self, block: np.ndarray, start: int, power: float) -> np.ndarray | None:
        """A block while a touch or latch write holds the threshold, or glides back from it: run at the lowest
        value it asks for (None where that is at JUCE's floor: the block is then cut as any other)."""
        curve = self.curves[0]
        n = block.shape[1]
        steady = curve.constant(start, start + n)
        values = None if steady is not None else curve.at(self.offsets[:n].astype(np.int64) + start)
        t0 = steady if steady is not None else float(values.min())  # type: ignore[union-attr]
        if t0 <= THRESHOLD_FLOOR_DB:
            return None
        self._set([t0])
        wet = self.process(block)
        if values is None or power <= 0.0:
            return wet
        rise = self.rise[:n]
        np.subtract(values, t0, out=rise)
        rise *= power * _DB_TO_LOG
        return self._follow(wet, block, rise, self.buffer[:, :n])

    def _follow(self, wet: np.ndarray, block: np.ndarray, rise: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``wet`` (run at T0) as it would be at the thresholds ``rise`` stands for (log k, k = (T / T0) ** (1 - 1 /
        ratio), per sample): ``wet * k``, or the input where that is louder (the sample is below its threshold,
        where the compressor leaves it alone). Into ``out``."""
        k = self.k[: len(rise)]
        np.copyto(k, rise, casting="same_kind")  # exp in float32, half float64's cost: within 2e-7 of it
        np.exp(k, out=k)
        out = out[: wet.shape[0]]
        np.multiply(wet, k, out=out)
        n = out.shape[1]
        louder, magnitude, level = self.louder[: out.shape[0], :n], self.magnitude[: out.shape[0], :n], \
            self.level[: block.shape[0], :n]
        np.greater(np.abs(out, out=magnitude), np.abs(block, out=level), out=louder)
        np.copyto(out, block, where=louder)
        return out


# -- gains ------------------------------------------------------------------------------


class Fade:
    """A strip's fader, pan and mute, a send's level or the master's gain as gains per sample.

    ``owner`` is read when a control has no envelope, so a fader moved while an
    automated pan plays is heard. ``heard``: 0.0 where the strip (or path) is
    silenced by a mute, a solo or a muted send, whatever its envelopes say.
    """

    __slots__ = ("owner", "gain", "pan", "mute", "level", "width", "lag", "heard", "law", "send", "curves",
                 "window", "span", "steady_key", "steady")

    def __init__(self, owner: object, curves: dict[str, Curve], width: int, lag: int, heard: bool,
                 send: object | None = None, stagger: int = 0):
        self.owner = owner
        self.send = send
        self.gain = curves.get("gain_db")
        self.pan = curves.get("pan")
        self.mute = curves.get("mute")
        self.level = curves.get("level_db")
        self.curves = tuple(c for c in (self.gain, self.pan, self.mute, self.level) if c is not None)
        self.width = width
        self.lag = lag
        self.heard = 1.0 if heard else 0.0
        # "bounce": a mono track bounced to a file has no pan law (mixer.bounce_gains); "flat": the master's gain
        self.law = "mix"
        # The gains worked out for a stretch of frames ahead (see gains()), and what they were worked out from.
        # Each fade's stretch is a little longer than the next one's, so the fades of a session do not all work
        # theirs out in the same block.
        self.window: _Window | None = None
        self.span = WINDOW + GRID * (stagger % 64)
        self.steady_key: tuple | None = None
        self.steady: np.ndarray | None = None

    def gains(self, position: int, n: int) -> np.ndarray:
        """(2, n) float32 left and right gains, or (1, n) for a send's level or where left and right are alike
        (a centred stereo track); (rows, 1) where nothing moves. A view of what is kept: never write into it.

        The gains are worked out on the :data:`GRID` of transport frames, and on
        both sides of every point (so a step or a mute lands on its own sample),
        and joined by straight lines per sample: a fade's curve between two grid
        points is then within a millionth of the exact one, for a fraction of the
        work. Which frames are worked out does not depend on where blocks start,
        so any cutting into blocks gives the same samples, bit for bit.

        They are worked out for :data:`WINDOW` frames at a time (or four of the
        segments a render asks for) and kept: a 128-frame block then costs a
        slice instead of forty numpy calls.
        """
        start = position - self.lag
        end = start + n
        owner = self._owner_values()
        steady = tuple(c.constant(start, end) for c in self.curves)
        if None not in steady:
            key = steady + owner
            if key != self.steady_key:  # the same values give the same gains wherever the block is
                self.steady = self._at(np.array([start], np.int64)).astype(np.float32)
                self.steady_key = key
            return self.steady  # type: ignore[return-value]
        key = tuple((c.held, id(c.glide)) for c in self.curves) + owner  # a touch or latch holds some of them
        window = self.window
        if window is None or window.key != key or start < window.first or end > window.last:
            window = self.window = self._evaluate(start, start + max(n, self.span, LOOKAHEAD * n), key)
        return window.between(start, end)

    def _owner_values(self) -> tuple:
        """What the gains depend on besides the envelopes: whether the strip is heard, and the controls without
        an envelope, read from the strip (a fader moved while its pan is automated)."""
        owner = self.owner
        if self.send is not None:  # heard: a mute or solo elsewhere changes it in place (Session.update_mix)
            return (self.heard, None if self.level is not None else self.send.level_db)  # type: ignore[attr-defined]
        return (self.heard, None if self.gain is not None else float(owner.gain_db),  # type: ignore[attr-defined]
                None if self.pan is not None else float(getattr(owner, "pan", 0.0)))

    def _evaluate(self, start: int, end: int, key: tuple) -> _Window:
        """The gains at every grid frame and on both sides of every point, from the grid frame at or before
        ``start`` to the one after ``end - 1`` (so the cell of ``end - 1`` has both its ends)."""
        first = start // GRID * GRID
        last = (end - 1) // GRID * GRID + GRID
        parts = [np.arange(first, last + 1, GRID, dtype=np.int64)]
        for curve in self.curves:
            cuts = curve.cuts
            for frames in (cuts, cuts - 1):
                parts.append(frames[(frames > first) & (frames < last)])  # the grid holds both ends
        frames = sorted_unique(np.concatenate(parts))
        return _Window(key, first, last, frames.astype(np.float64), self._at(frames))

    def _at(self, frames: np.ndarray) -> np.ndarray:
        """The gains at ``frames``: (2, len) left and right, or (1, len) for a send or where both sides are alike,
        float64."""
        count = len(frames)
        if self.send is not None:
            db = self.level.at(frames) if self.level is not None else np.full(count, self.send.level_db)  # type: ignore
            return (self.heard * _db_to_gain(db)).reshape(1, count)
        owner = self.owner
        db = self.gain.at(frames) if self.gain is not None else np.full(count, float(owner.gain_db))  # type: ignore
        level = self.heard * _db_to_gain(db)
        if self.mute is not None:
            level = level * (self.mute.at(frames) < 0.5)
        if self.law == "flat" or (self.law == "bounce" and self.width == 1):
            return level.reshape(1, count)  # both sides alike: one row, which the multiply spreads over both
        if self.pan is not None:
            left, right = _pan_gains(self.pan.at(frames), self.width)
        else:  # one pan for all: worked out once (by the same numpy law, so the same gains to the bit)
            left, right = (g[0] for g in _pan_gains(np.array([float(getattr(owner, "pan", 0.0))]), self.width))
            if left == right:  # a stereo track panned centre
                return (level * left).reshape(1, count)
        return np.vstack((level * left, level * right))


WINDOW = 8192  # frames of gains a fade works out at a time


_OFFSETS = np.arange(GRID, dtype=np.float64)  # a grid cell's frames after its first


class _Window:
    """A fade's gains per sample from ``first`` to ``last - 1``, joining its values at ``frames`` (float64) by
    straight lines; ``first`` and ``last`` are grid frames, and every grid frame between is among ``frames``.

    Most of the frames are the grid's, so a cell of the grid with no point inside is one multiply-add over
    its :data:`GRID` frames, where ``np.interp`` searches for every sample (3-4x the time: faders were a
    quarter of an automated render). The arithmetic is ``np.interp``'s own (slope times offset, plus the
    start), so the samples are the same, bit for bit; the few cells a point falls in are left to ``np.interp``.
    They are all worked out at once: a block's gains are then a view of them, never written again.
    """

    __slots__ = ("key", "first", "last", "frames", "values", "samples")

    def __init__(self, key: tuple, first: int, last: int, frames: np.ndarray, values: np.ndarray):
        self.key = key
        self.first = first
        self.last = last
        self.frames = frames  # float64, for np.interp
        self.values = values  # (rows, len(frames)) float64
        offset = frames - first  # whole numbers, as float64
        on_grid = offset % GRID == 0
        grid = values[:, on_grid]  # at first, first + GRID, ..., last
        # np.interp's slope between two neighbouring frames: (y1 - y0) / (x1 - x0)
        slopes = (grid[:, 1:] - grid[:, :-1]) / float(GRID)
        rows, cells = slopes.shape
        samples = np.empty((rows, cells * GRID), np.float32)
        ramps = slopes[:, :, None] * _OFFSETS
        np.add(ramps, grid[:, :-1, None], out=samples.reshape(rows, cells, GRID))  # in float64, rounded once
        for cell in sorted_unique((offset[~on_grid] // GRID).astype(np.int64)).tolist():  # cells a point is in
            lo = first + cell * GRID
            hi = lo + GRID
            i = int(np.searchsorted(frames, lo, side="right")) - 1
            j = int(np.searchsorted(frames, hi - 1, side="left")) + 1
            every = np.arange(lo, hi, dtype=np.float64)
            for row in range(rows):
                samples[row, lo - first: hi - first] = np.interp(every, frames[i:j], values[row, i:j])
        self.samples = samples

    def between(self, start: int, end: int) -> np.ndarray:
        """(rows, end - start) float32: the gains at frames ``start`` to ``end - 1`` (a view: do not write it)."""
        return self.samples[:, start - self.first: end - self.first]


def sorted_unique(frames: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int64 array of frames: the same, a quarter of the time (numpy 2's hashes them)."""
    frames = np.sort(frames)
    keep = np.empty(len(frames), bool)
    keep[:1] = True
    np.not_equal(frames[1:], frames[:-1], out=keep[1:])
    return frames[keep]


def _db_to_gain(db: np.ndarray) -> np.ndarray:
    return np.where(db <= -150.0, 0.0, np.exp(db * (math.log(10.0) / 20.0)))


def _pan_gains(pan: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rackhost.chain.dsp.pan_gains` for many pans at once."""
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * (math.pi / 4.0)
    left, right = np.cos(angle), np.sin(angle)
    if channels == 2:
        left, right = np.minimum(1.0, left * math.sqrt(2.0)), np.minimum(1.0, right * math.sqrt(2.0))
    return left, right


@dataclass
class MixAutomation:
    """The snapshot's envelopes on gains: per track row, per bus row, per path (edge gain index), the master."""

    tracks: dict[int, Fade] = field(default_factory=dict)
    busses: dict[int, Fade] = field(default_factory=dict)
    edges: dict[int, Fade] = field(default_factory=dict)
    master: Fade | None = None
    stages: list[StageAutomation] = field(default_factory=list)
    # id(envelope) -> each curve playing it and its lag in frames: where a touch or latch write holds the control
    curves: dict[int, list[tuple[Curve, int]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tracks or self.busses or self.edges or self.master or self.stages)

    def restore(self) -> None:
        """Put every automated plug-in parameter back to the value the model holds (after a render)."""
        for stage in self.stages:
            stage.restore()

    def prime(self) -> None:
        """Prepare every automated slot's plug-in for whole blocks after a reset (:meth:`StageAutomation.prime`)."""
        for stage in self.stages:
            stage.prime()


class BranchesRun:
    """A split's stage in a chain's automation: it runs its branches with the transport position, so the
    envelopes of the plug-ins inside them (each a :class:`StageAutomation` in its branch's processor) play."""

    __slots__ = ()

    def run(self, stage: SplitStage, block: np.ndarray, position: int) -> np.ndarray:
        return stage.run(block, position)


BRANCHES = BranchesRun()


def stage_automations(processor: ChainProcessor) -> list[StageAutomation]:
    """Every :class:`StageAutomation` ``processor`` runs, those inside its splits' branches too."""
    out: list[StageAutomation] = []
    for stage, entry in zip(processor.stages, processor.automation or ()):
        if isinstance(entry, StageAutomation):
            out.append(entry)
        elif isinstance(entry, BranchesRun) and isinstance(stage, SplitStage):
            for path in stage.paths:
                if path.processor is not None:
                    out += stage_automations(path.processor)
    return out


def _output_width(item: Slot | Split) -> int:
    return item.output_channels if isinstance(item, Split) else item.plugin.output_channels


# -- building -------------------------------------------------------------------------------


class Planner:
    """Compiles a session's playing envelopes into what a snapshot runs; made by ``Session.snapshot``."""

    def __init__(self, sample_rate: float, block: int, max_segment: int):
        self.sample_rate = sample_rate
        self.block = block
        self.max_segment = max_segment
        self.mix = MixAutomation()
        self._fades = 0

    def _stagger(self) -> int:
        self._fades += 1
        return self._fades

    def slots(self, owner: Strip) -> dict[Slot, bool]:
        """The automated slots of ``owner``'s chain for :meth:`Chain.processor`: True where ``_mix`` is automated."""
        out: dict[Slot, bool] = {}
        for envelope in playing(owner):
            target = envelope.target
            if isinstance(target, SlotTarget) and not isinstance(target.slot.plugin, MissingPlugin):
                out[target.slot] = out.get(target.slot, False) or target.parameter == MIX
        return out

    def chain(self, owner: Strip, processor: ChainProcessor, lag: int, channels: int = 2) -> ChainProcessor:
        """``processor`` playing ``owner``'s slot envelopes (those of plug-ins inside its splits too); ``lag``: the
        latency in front of the chain, ``channels``: how wide its input is."""
        by_slot: dict[int, list[Envelope]] = {}
        for envelope in playing(owner):
            target = envelope.target
            if isinstance(target, SlotTarget) and not isinstance(target.slot.plugin, MissingPlugin):
                by_slot.setdefault(id(target.slot), []).append(envelope)
        if not by_slot:
            return processor
        return self._chain(owner, owner.chain, processor, lag, channels, by_slot)

    def _chain(self, owner: Strip, chain: Chain, processor: ChainProcessor, lag: int, channels: int,
               by_slot: dict[int, list[Envelope]]) -> ChainProcessor:
        """:meth:`chain` for ``chain``: the strip's own, or a split's branch in it (whose ``lag`` counts the
        latency in front of the split)."""
        automation: list[StageAutomation | BranchesRun | None] = []
        stages = list(processor.stages)
        for i, (stage, slots, mix) in enumerate(zip(processor.stages, processor.stage_slots,
                                                    processor.mixes or (None,) * len(processor.stages))):
            if not slots:  # a delay added after the chain (rackhost.chain.chain.delayed)
                automation.append(None)
                continue
            slot = slots[0]
            place = next(k for k, s in enumerate(chain.slots) if s is slot)
            width_in = _output_width(chain.slots[place - 1]) if place else channels
            entry: StageAutomation | BranchesRun | None = None
            if isinstance(slot, Split):
                if not slot.bypass and isinstance(stage, SplitStage):
                    inner = {}
                    for path in stage.paths:
                        if path.processor is None:
                            continue
                        branch = slot.branches[path.branch].chain
                        played = self._chain(owner, branch, path.processor, lag, width_in, by_slot)  # type: ignore
                        if played is not path.processor:
                            inner[path.branch] = played
                    if inner:
                        stages[i] = stage.with_processors(inner)
                        entry = BRANCHES
            else:
                envelopes = by_slot.get(id(slot)) if len(slots) == 1 else None
                if envelopes and not slot.bypass:
                    entry = self._stage(owner, slot, envelopes, mix, lag, stage, width_in)
            automation.append(entry)
            if not slot.bypass:
                lag += slot.latency(self.sample_rate, self.block)
        if not any(automation):
            return processor
        return ChainProcessor(tuple(stages), processor.latency, processor.stage_slots, processor.channels,
                              processor.mixes, tuple(automation), keys=processor.keys)

    def _stage(self, owner: Strip, slot: Slot, envelopes: list[Envelope], mix: object, lag: int, stage: Stage,
               width_in: int) -> StageAutomation:
        curves, setters, statics = [], [], []
        for envelope in envelopes:
            parameter = envelope.target.parameter  # type: ignore[union-attr]
            steps = () if parameter == MIX else slot.plugin.info(parameter).steps
            curves.append(self._curve(envelope, lag, value_range(owner, envelope.target).discrete, steps))
            setters.append(parameter_setter(slot, parameter, mix))
            if parameter != MIX:
                statics.append(_putter(slot, parameter))
        compressor = _threshold_only_compressor(slot, envelopes, curves)
        automated: StageAutomation
        if compressor is not None:
            # The plug-in's own processor: the stage may be wrapped in the slot's wet/dry, applied after the threshold.
            process = stage if mix is None else slot.plugin.processor(self.sample_rate, self.block, self.max_segment)
            automated = CompressorThreshold(curves[0], setters[0], lag, self.block, slot.plugin.output_channels,
                                            self.max_segment, statics, stage, width_in, compressor, process, mix)
        else:
            automated = StageAutomation(curves, setters, lag, self.block, slot.plugin.output_channels,
                                        self.max_segment, statics, stage, width_in, _sized(slot, mix, self),
                                        self._stagger())
        self.mix.stages.append(automated)
        return automated

    def _curve(self, envelope: Envelope, lag: int, discrete: bool = False, steps: Sequence[float] = ()) -> Curve:
        curve = Curve(envelope, self.sample_rate, discrete, steps)
        self.mix.curves.setdefault(id(envelope), []).append((curve, lag))
        return curve

    def fade(self, owner: Strip, width: int, lag: int, heard: bool) -> Fade | None:
        """The fader, pan and mute envelopes of ``owner`` as a :class:`Fade`, or None when it has none."""
        curves = {e.target.control: self._curve(e, lag, e.target.control == "mute")
                  for e in playing(owner) if isinstance(e.target, StripTarget)}
        return Fade(owner, curves, width, lag, heard, stagger=self._stagger()) if curves else None

    def send_fade(self, owner: Strip, send: object, lag: int, heard: bool) -> Fade | None:
        for envelope in playing(owner):
            if isinstance(envelope.target, SendTarget) and envelope.target.send is send:
                return Fade(owner, {"level_db": self._curve(envelope, lag)}, 1, lag, heard, send,
                            stagger=self._stagger())
        return None


def _threshold_only_compressor(slot: Slot, envelopes: list[Envelope], curves: list[Curve]) -> object | None:
    """The pedalboard ``Compressor`` of ``slot`` where :class:`CompressorThreshold` can play its envelopes: a
    built-in Compressor (no latency: its wet/dry has no delay line), unkeyed, whose one automated parameter is
    ``threshold_db`` (wet/dry, ratio, attack or release automated too: None, and the stage is cut as any other)."""
    plugin = slot.plugin
    if (len(envelopes) != 1 or envelopes[0].target.parameter != "threshold_db"  # type: ignore[union-attr]
            or not plugin.is_builtin or slot.key is not None or len(plugin.instances) != 1):
        return None
    instance = plugin.instance
    if (type(instance) is not pedalboard.Compressor or curves[0].steps is not None
            or float(curves[0].values.min()) <= THRESHOLD_FLOOR_DB):
        return None
    return instance


def _sized(slot: Slot, mix: object | None, planner: Planner) -> Callable[[np.ndarray, int], np.ndarray] | None:
    """The plug-in of ``slot`` called with a chunk size, where its stage is that plug-in called with the block as
    the chunk size (an external plug-in, unadapted, not latent, unkeyed, without a wet/dry): None elsewhere."""
    plugin = slot.plugin
    if (mix is not None or plugin.is_builtin or isinstance(plugin, MissingPlugin) or plugin.mode != "direct"
            or slot.key is not None or len(plugin.instances) != 1
            or slot.latency(planner.sample_rate, planner.block)):
        return None
    process, sample_rate = plugin.instance.process, planner.sample_rate

    def sized(block: np.ndarray, chunk: int) -> np.ndarray:
        return process(block, sample_rate, chunk, False)

    return sized


def _putter(slot: Slot, parameter: str) -> Callable[[], None]:
    value = slot.plugin.get(parameter)
    return lambda: slot.plugin.set(parameter, value)
