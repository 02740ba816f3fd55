"""Honest listening on a strip: the chain against its input at matched loudness, and the delta between them.

The ear prefers the louder side, so a bypass-compare that is not loudness
matched favours whichever side is louder. :class:`Audition` is what the user
chose (the model, on a :class:`~rackhost.chain.track.Track`);
:class:`AuditionStage` is what the audio path runs after the track's chain:
``out = wet_gain * chain_output + dry_gain * input``, the input delayed by the
chain's latency so a switch never jumps in time. Every choice is one triple of
gains (the chain matched: (g, 0, 0); the input: (0, 1, 0); the delta:
(1, -1, 0); the other A/B setting, run beside the chain for a blind test:
(0, 0, g)), so a switch is a short linear ramp between two triples:
click-free, and the delta of a chain that changes nothing is exactly zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rackhost.chain.dsp import DelayLine, db_to_gain
from rackhost.chain.loudness import integrated_loudness
from rackhost.chain.matching import MatchError

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
    # A, B and the input all play equally loud.
    offsets: tuple[float, float] = (0.0, 0.0)
    # Run the inactive A/B setting beside the playing one (a blind test between A and B), so side "other"
    # plays it with a crossfade instead of a rebuild; costs a second chain on the audio thread while on.
    runs_other: bool = False
    # The other side is instead the chain with this slot bypassed (a slot's bypass-compare, blind), run on a
    # copy of the chain made when it starts; other_offset is its matching gain against the input.
    compare_slot: int | None = None
    other_offset: float = 0.0
    # A blind test plays the sides: what plays is hidden from the window (the label says so, no side named).
    blind: bool = False

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"audition side must be 'chain', 'input' or 'other'; got {self.side!r}")
        if self.side == "other" and not self.runs_other:
            raise ValueError("audition side 'other' plays the inactive A/B setting, which runs only with "
                             "runs_other=True; set it (a rebuild) before switching to it")
        self.offsets = (float(self.offsets[0]), float(self.offsets[1]))

    def offset_db(self, setting: str = "A") -> float:
        return self.offsets[setting == "B"]

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
            return (0.0, 0.0, float(db_to_gain(other)) if self.match else 1.0)
        return (float(db_to_gain(self.offset_db(setting))) if self.match else 1.0, 0.0, 0.0)

    def label(self, setting: str = "A") -> str:
        """What the strip shows: ``B +2.3 dB`` (the playing setting's matching gain), ``input``, ``delta``."""
        if self.blind:
            return "blind test"
        if self.delta:
            return "delta"
        if self.side == "input":
            return "input"
        if self.side == "other" and self.compare_slot is not None:
            return f"slot {self.compare_slot + 1} bypassed {self.other_offset:+.1f} dB" if self.match else \
                f"slot {self.compare_slot + 1} bypassed"
        if self.side == "other":
            setting = "B" if setting == "A" else "A"
        return f"{setting} {self.offset_db(setting):+.1f} dB" if self.match else f"{setting} unmatched"


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
    """

    __slots__ = ("_delay", "_done", "_from", "_idle", "_other_delay", "_ramp", "_target", "gains", "needed",
                 "other")

    def __init__(self, gains: Gains, channels: int, latency: int, max_segment: int,
                 sample_rate: float, other: Any = None, other_delay: int = 0):
        self._idle = (1.0, 0.0, 0.0)
        # The input as the chain's output hears it: delayed by the chain's latency.
        self._delay = DelayLine(channels, latency, max_segment) if latency else None
        self.other = other
        width = (other.channels or channels) if other is not None else channels
        self._other_delay = DelayLine(width, other_delay, max_segment) if other is not None and other_delay else None
        self.gains = gains
        self._from = gains
        self._ramp = max(1, round(CROSSFADE_SECONDS * sample_rate))
        self._done = self._ramp
        self.target = gains

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
        return self._delay is not None or self.other is not None

    def __call__(self, source: np.ndarray, processed: np.ndarray) -> np.ndarray:
        dry = self._delay(source) if self._delay is not None else source
        alt = processed  # no B made yet: B is a copy of A
        if self.other is not None:
            alt = self.other(source) if self.other.stages else source
            if self._other_delay is not None:
                alt = self._other_delay(alt)
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


def measure_track(track, sample_rate: float, block: int, span: tuple[int, int] | None = None) -> tuple[float, float]:
    """The matching offsets (dB) of ``track``'s A and B settings against its file over ``span`` (frames; None:
    all of it); a setting not made yet gets the playing one's."""
    playing = _measure_chain(track, track.chain, sample_rate, block, span)
    other = (_measure_chain(track, track.ab.other, sample_rate, block, span) if track.ab.other is not None
             else playing)
    return (playing, other) if track.ab.active == "A" else (other, playing)


def measure_bypassed(track, slot: int, sample_rate: float, block: int, span: tuple[int, int] | None = None) -> float:
    """The matching offset (dB) of ``track``'s chain with slot ``slot`` bypassed, against its file over ``span``."""
    chain = track.chain.clone()
    chain.set_bypass(slot, True)
    return _measure_chain(track, chain, sample_rate, block, span)


def _measure_chain(track, chain, sample_rate: float, block: int, span: tuple[int, int] | None) -> float:
    """Runs a fresh processor of a copy of ``chain`` (the render code, block by block), so the playing
    plug-ins keep their state."""
    if track.source is None:
        raise MatchError(f"track {track.name!r} has no audio file to measure; matching measures a file's "
                         f"loop range (give it a file)")
    audio = track.source.audio(sample_rate)
    start, end = span if span is not None else (0, audio.shape[1])
    dry = np.ascontiguousarray(audio[:, start:end])
    chain = chain.clone()
    processor = chain.processor(track.channels, sample_rate, block, block, track.keep_mono)
    latency = processor.latency
    frames = dry.shape[1] + latency
    padded = np.zeros((dry.shape[0], -(-frames // block) * block), np.float32)
    padded[:, : dry.shape[1]] = dry
    wet = np.concatenate([processor.run(padded[:, i : i + block], 0) if processor.stages
                          else padded[:, i : i + block] for i in range(0, padded.shape[1], block)], axis=1)
    return match_offset(dry, wet[:, latency : latency + dry.shape[1]], sample_rate)
