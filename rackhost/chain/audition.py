"""Honest listening on a strip: the chain against its input at matched loudness, and the delta between them.

The ear prefers the louder side, so a bypass-compare that is not loudness
matched favours whichever side is louder. :class:`Audition` is what the user
chose (the model, on a track, a bus or the master: :class:`Auditioned`);
:class:`AuditionStage` is what the audio path runs after the strip's chain:
``out = wet_gain * chain_output + dry_gain * input``, the input delayed by the
chain's latency so a switch never jumps in time. Every choice is one triple of
gains (the chain matched: (g, 0, 0); the input: (0, 1, 0); the delta:
(1, -1, 0); the other A/B setting, run beside the chain for a blind test:
(0, 0, g)), so a switch is a short linear ramp between two triples:
click-free, and the delta of a chain that changes nothing is exactly zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rackhost.chain.dsp import DelayCarry, db_to_gain, delay_line
from rackhost.chain.loudness import integrated_loudness
from rackhost.chain.matching import MatchError
from rackhost.errors import SessionError

if TYPE_CHECKING:
    from rackhost.chain.chain import Chain, ChainProcessor
    from rackhost.chain.compare import ABCompare

CROSSFADE_SECONDS = 0.010
SIDES = ("chain", "input", "other")
Gains = tuple[float, float, float]  # on the chain's output, the aligned input, the other setting's output


@dataclass
class Audition:
    """What a strip plays: its chain or its input (bypass-compare), matched or not, or the delta."""

    side: str = "chain"  # "chain" or "input" (the whole chain against what goes in), or "other" (see below)
    match: bool = True  # play the chain at the input's loudness (off when level is the point)
    delta: bool = False  # play the chain's output minus its latency-aligned input
    # Measured, per A/B setting of the chain: the gain that brings its output to the input's loudness, so
    # A, B and the input all play equally loud. None: not measured yet (plays at 0 dB, and says so: a strip
    # showing "+0.0 dB" before anything was measured would claim a match that was never made).
    offsets: tuple[float | None, float | None] = (None, None)
    # Run the inactive A/B setting beside the playing one (a blind test between A and B), so side "other"
    # plays it with a crossfade instead of a rebuild; costs a second chain on the audio thread while on.
    runs_other: bool = False
    # The other side is instead the chain with this slot bypassed (a slot's bypass-compare, blind), run on a
    # copy of the chain made when it starts; other_offset is its matching gain against the input.
    compare_slot: int | None = None
    other_offset: float | None = None
    # A blind test plays the sides: what plays is hidden from the window (the label says so, no side named).
    blind: bool = False

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"audition side must be 'chain', 'input' or 'other'; got {self.side!r}")
        if self.side == "other" and not self.runs_other:
            raise ValueError("audition side 'other' plays the inactive A/B setting, which runs only with "
                             "runs_other=True; set it (a rebuild) before switching to it")
        if self.delta and self.side != "chain":
            # The delta is the chain's change (its output minus its input): with the input or the other side
            # playing there is no chain to take it of, so the two are one choice, never both.
            raise ValueError(f"audition delta plays what the chain changes, so it cannot be on while side "
                             f"{self.side!r} plays; untick one (delta=False, or side='chain'), or use "
                             f"hearing_input() / hearing_delta(), which untick the other")
        self.offsets = (_db(self.offsets[0]), _db(self.offsets[1]))
        self.other_offset = _db(self.other_offset)

    def offset_db(self, setting: str = "A") -> float | None:
        """The matching gain of ``setting`` (A or B), or None if it was not measured yet."""
        return self.offsets[setting == "B"]

    def measured(self, setting: str = "A") -> bool:
        return self.offsets[setting == "B"] is not None

    def hearing_input(self, on: bool) -> Audition:
        """``in`` ticked or unticked: the input (bypass-compare) or the chain; ticking it unticks the delta, as
        the strip's switches do (they are one choice: the chain, its input, or what it changes)."""
        if on:
            return replace(self, side="input", delta=False)
        return replace(self, side="chain") if self.side == "input" else self

    def hearing_delta(self, on: bool) -> Audition:
        """``delta`` ticked or unticked: what the chain changes, or the chain; ticking it unticks ``in``."""
        return replace(self, delta=bool(on), side="chain" if on else self.side)

    @property
    def shows_input(self) -> bool:
        """Whether the strip's ``in`` switch shows on: never during a blind test, which would name the side."""
        return self.side == "input" and not self.blind

    def gains(self, setting: str = "A") -> Gains:
        """(gain on the chain's output, on the latency-aligned input, on the other setting's output) while
        ``setting`` (A or B) is the active one."""
        if self.delta:
            return (1.0, -1.0, 0.0)
        if self.side == "input":
            return (0.0, 1.0, 0.0)
        if self.side == "other":
            other = self.other_offset if self.compare_slot is not None else self.offset_db("B" if setting == "A"
                                                                                            else "A")
            return (0.0, 0.0, _gain(other) if self.match else 1.0)
        return (_gain(self.offset_db(setting)) if self.match else 1.0, 0.0, 0.0)

    def label(self, setting: str = "A") -> str:
        """What the strip shows: ``B +2.3 dB`` (the playing setting's matching gain), ``A not matched yet``,
        ``input``, ``delta``."""
        if self.blind:
            return "blind test"
        if self.delta:
            return "delta"
        if self.side == "input":
            return "input"
        if self.side == "other" and self.compare_slot is not None:
            who, db = f"slot {self.compare_slot + 1} bypassed", self.other_offset
            return f"{who} {_offset_words(db)}" if self.match else who
        if self.side == "other":
            setting = "B" if setting == "A" else "A"
        return f"{setting} {_offset_words(self.offset_db(setting))}" if self.match else f"{setting} unmatched"


def _db(value: float | None) -> float | None:
    return None if value is None else float(value)


def _gain(db: float | None) -> float:
    """A matching gain as played: not measured yet, the chain plays at its own level."""
    return 1.0 if db is None else float(db_to_gain(db))


def _offset_words(db: float | None) -> str:
    return "not matched yet" if db is None else f"{db:+.1f} dB"


def match_offset(dry: np.ndarray, wet: np.ndarray, sample_rate: float) -> float:
    """The gain (dB) that brings ``wet`` (the chain's output) to the BS.1770 loudness of ``dry`` (its input)."""
    before = integrated_loudness(np.asarray(dry, np.float64), sample_rate)
    after = integrated_loudness(np.asarray(wet, np.float64), sample_rate)
    for name, value in (("the input", before), ("the chain's output", after)):
        if value is None or not math.isfinite(value):
            raise MatchError(f"{name} has no measurable loudness (silent, or shorter than 0.4 s); "
                             f"measure over a longer, louder loop range")
    return float(before - after)


class AuditionStage:
    """The audio path's side of :class:`Audition`: runs after a track's chain, on the audio thread.

    ``target`` is set by the control thread (one attribute assignment through
    the parameter queue); the callback ramps ``gains`` to it over
    :data:`CROSSFADE_SECONDS`. Allocates only numpy temporaries.

    ``other``: the inactive A/B setting's chain, run on the same input in every
    block (so its state is current when a blind test switches to it), its
    output delayed by ``other_delay`` to land with the chain's.

    ``carry``: a live engine's (:class:`~rackhost.chain.dsp.DelayCarry`), so the delay lines of the last
    snapshot's stage on the same strip (``key``) play on in this one: a rebuild while auditioning (any edit)
    would otherwise start them empty, a gap as long as the chain's latency, and a click.
    """

    __slots__ = ("_delay", "_done", "_from", "_idle", "_other_delay", "_ramp", "_target", "gains", "needed",
                 "other", "tap", "tap_key")

    def __init__(self, gains: Gains, channels: int, latency: int, max_segment: int,
                 sample_rate: float, other: Any = None, other_delay: int = 0, carry: DelayCarry | None = None,
                 key: tuple = ()):
        self._idle = (1.0, 0.0, 0.0)
        # The input as the chain's output hears it: delayed by the chain's latency.
        self._delay = delay_line(carry, ("audition input", *key), channels, latency, max_segment)
        self.other = other
        width = (other.channels or channels) if other is not None else channels
        self._other_delay = delay_line(carry, ("audition other", *key), width, other_delay, max_segment) \
            if other is not None else None
        self.gains = gains
        self._from = gains
        self._ramp = max(1, round(CROSSFADE_SECONDS * sample_rate))
        self._done = self._ramp
        # A ring the live engine fills with both sides for matching from what plays (rackhost.live.match_tap),
        # with what plays (setting, other side); None: nothing taken.
        self.tap: Any = None
        self.tap_key: tuple[int, int] = (0, -2)
        self.target = gains

    def listen(self, tap: Any, key: tuple[int, int] = (0, -2)) -> None:
        """Control thread: copy every block's sides into ``tap`` (its ``write(dry, wet, other, key)``), or stop
        (None). ``key``: what plays, which the tap keeps apart."""
        self.tap_key = key
        self.tap = tap
        self.target = self._target  # a tap keeps the stage called

    @property
    def target(self) -> Gains:
        return self._target

    @target.setter
    def target(self, gains: Gains) -> None:
        self._target = gains
        # False while the strip may skip calling this stage at all (nothing to mix, no dry delay or other side to
        # keep current): a call per track per block is GIL time the other audio thread waits for.
        self.needed = self._kept_current or gains != self._idle or self.gains != self._idle

    @property
    def _kept_current(self) -> bool:
        return self._delay is not None or self.other is not None or self.tap is not None

    def __call__(self, source: np.ndarray, processed: np.ndarray) -> np.ndarray:
        dry = self._delay(source) if self._delay is not None else source
        alt = processed  # no B made yet: B is a copy of A
        if self.other is not None:
            alt = self.other(source) if self.other.stages else source
            if self._other_delay is not None:
                alt = self._other_delay(alt)
        tap = self.tap
        if tap is not None:
            tap.write(dry, processed, alt if self.other is not None else None, self.tap_key)
        target = self._target
        if target != self.gains:  # a switch: ramp from where we are
            self._from, self.gains, self._done = self._current(), target, 0
        if self._done >= self._ramp:
            wet_gain, dry_gain, other_gain = self.gains
            if self.gains == self._idle:
                self.needed = self._kept_current
                return processed
            out = wet_gain * processed + dry_gain * dry
            return out + other_gain * alt if other_gain else out
        n = processed.shape[1]
        t = np.minimum((np.arange(n, dtype=np.float32) + self._done + 1) / self._ramp, 1.0).astype(np.float32)
        (w0, d0, o0), (w1, d1, o1) = self._from, self.gains
        self._done += n
        out = (w0 + (w1 - w0) * t) * processed + (d0 + (d1 - d0) * t) * dry
        return out + (o0 + (o1 - o0) * t) * alt

    def _current(self) -> Gains:
        if self._done >= self._ramp:
            return self.gains
        t = self._done / self._ramp
        (w0, d0, o0), (w1, d1, o1) = self._from, self.gains
        return (w0 + (w1 - w0) * t, d0 + (d1 - d0) * t, o0 + (o1 - o0) * t)


class Auditioned:
    """What tracks, busses and the master share for honest listening: their :class:`Audition`, the stage the
    audio path runs after their chain, and the other side a blind test runs beside it."""

    chain: Chain
    ab: ABCompare
    audition: Audition
    channels: int
    keep_mono: bool = False  # a track's choice; a bus and the master are stereo
    # A blind test's copy of the chain with one slot bypassed: ((slot, length, chain id), copy), once made.
    _twin: tuple[tuple[int, int, int], Chain] | None = None

    @property
    def strip_name(self) -> str:
        """``track 'vox'``, ``bus 'drums'`` or ``the master``, for messages."""
        name = getattr(self, "name", None)
        return f"{type(self).__name__.lower()} {name!r}" if name is not None else "the master"

    def audition_stage(self, latency: int, max_segment: int, sample_rate: float,
                       other: ChainProcessor | None = None, carry: DelayCarry | None = None) -> AuditionStage:
        """The audio path's audition after this strip's chain (``latency`` frames late); ``other``: the
        inactive A/B setting's processor (:meth:`other_processor`), run beside it; ``carry``: a live engine's,
        which hands the last snapshot's delay lines of this strip on."""
        delay = latency - other.latency if other is not None else 0
        return AuditionStage(self.audition.gains(self.ab.active), self.channels, latency, max_segment, sample_rate,
                             other, delay, carry, (self.strip_name,))

    def other_processor(self, sample_rate: float, block: int, segment: int, width: int) -> ChainProcessor | None:
        """The inactive A/B setting's processor while a blind test runs it beside the chain
        (:attr:`Audition.runs_other`), else None. ``width``: the playing chain's output width, which B must
        match to be switched to."""
        if not self.audition.runs_other:
            return None
        other = self.ab.other if self.audition.compare_slot is None else self._bypassed_twin()
        if other is None:
            return None
        processor = other.processor(self.channels, sample_rate, block, segment, self.keep_mono)
        if (processor.channels or self.channels) != width:
            raise SessionError(f"{self.strip_name}: its A and B settings differ in width (one has a stereo-only "
                               f"plug-in the other lacks), so they cannot be switched blind; make both mono or "
                               f"both stereo")
        return processor

    def _bypassed_twin(self) -> Chain:
        """A copy of the chain with the compared slot bypassed (own plug-in instances, so it runs beside the
        chain); made once per compared slot and chain length, so a rebuild keeps its state."""
        slot = self.audition.compare_slot
        assert slot is not None
        if not 0 <= slot < len(self.chain):
            raise SessionError(f"{self.strip_name} has no slot {slot + 1} to compare bypassed (its chain has "
                               f"{len(self.chain)}); pick one of its slots")
        made = self._twin
        if made is None or made[0] != (slot, len(self.chain), id(self.chain)):
            # Copied without running the playing plug-ins (see Plugin.clone), which may be processing now.
            twin = self.chain.clone(flush=False)
            twin.set_bypass(slot, True)
            self._twin = made = ((slot, len(self.chain), id(self.chain)), twin)
        return made[1]
