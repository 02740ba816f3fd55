"""Loudness matching: what each side of a compare measures, and the gain that plays it at the reference's loudness.

The ear prefers the louder of two otherwise equal takes, so a compare is only
fair once every side plays at the same BS.1770 integrated loudness. Pure
functions over (channels, frames) arrays: the shoot-out command and the
window's A/B both use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rackhost.chain.dsp import db_to_gain, gain_to_db
from rackhost.chain.loudness import integrated_loudness, loudness_over_time, true_peak
from rackhost.errors import RackhostError

SHORT_TERM_SECONDS = 3.0  # BS.1770 / EBU Tech 3341 short-term window
SHORT_TERM_HOP_SECONDS = 0.1  # EBU Tech 3342 asks for at least 10 short-term values a second
# EBU Tech 3342 loudness range: absolute gate, relative gate, and the percentiles spanned.
_LRA_ABSOLUTE_GATE_LUFS = -70.0
_LRA_RELATIVE_GATE_LU = -20.0
_LRA_PERCENTILES = (10.0, 95.0)


class MatchError(RackhostError):
    """A side cannot be matched: it has no measurable loudness (silent, or shorter than 0.4 s)."""


@dataclass(frozen=True)
class Measurement:
    """What a listener compares besides the sound: levels, peaks and dynamics of one side."""

    integrated_lufs: float | None  # None when shorter than one 400 ms gating block; -inf when silent
    short_term_max_lufs: float | None  # loudest 3 s; None when shorter than 3 s
    true_peak_dbtp: float
    peak_dbfs: float
    crest_factor_db: float | None  # sample peak over RMS, all channels together; None when silent
    loudness_range_lu: float | None  # EBU Tech 3342 LRA; None when shorter than 3 s or all below the gate
    seconds: float

    def to_dict(self) -> dict[str, float | None]:
        return {
            "integrated_lufs": _finite(self.integrated_lufs),
            "short_term_max_lufs": _finite(self.short_term_max_lufs),
            "true_peak_dbtp": _finite(self.true_peak_dbtp),
            "peak_dbfs": _finite(self.peak_dbfs),
            "crest_factor_db": _finite(self.crest_factor_db),
            "loudness_range_lu": _finite(self.loudness_range_lu),
            "seconds": self.seconds,
        }


def measure_side(audio: np.ndarray, sample_rate: float) -> Measurement:
    """Integrated and short-term max loudness, true and sample peak, crest factor and LRA of ``audio``."""
    audio = np.asarray(audio, dtype=np.float64)
    short_term = short_term_loudness(audio, sample_rate)
    return Measurement(
        integrated_lufs=integrated_loudness(audio, sample_rate),
        short_term_max_lufs=float(np.max(short_term)) if short_term.size else None,
        true_peak_dbtp=gain_to_db(true_peak(audio, sample_rate)),
        peak_dbfs=gain_to_db(float(np.max(np.abs(audio))) if audio.size else 0.0),
        crest_factor_db=crest_factor_db(audio),
        loudness_range_lu=loudness_range(short_term),
        seconds=audio.shape[1] / sample_rate,
    )


def crest_factor_db(audio: np.ndarray) -> float | None:
    """Sample peak over RMS in dB, over all channels and frames together (a sine reads 3.01 dB)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.size == 0:
        return None
    rms = math.sqrt(float(np.mean(np.square(audio))))
    if rms == 0.0:
        return None
    return gain_to_db(float(np.max(np.abs(audio))) / rms)


def short_term_loudness(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """Short-term loudness (LUFS, ungated, 3 s windows every 0.1 s), whole windows only."""
    ends, lufs = loudness_over_time(audio, sample_rate, SHORT_TERM_SECONDS, SHORT_TERM_HOP_SECONDS)
    # loudness_over_time averages what there is before 3 s have passed; those are not short-term values.
    return lufs[ends * sample_rate >= round(SHORT_TERM_SECONDS * sample_rate)]


def loudness_range(short_term: np.ndarray) -> float | None:
    """EBU Tech 3342 loudness range (LU) of short-term loudness values: P95 - P10 of the gated values."""
    values = short_term[short_term > _LRA_ABSOLUTE_GATE_LUFS]
    if values.size == 0:
        return None
    mean_power = float(np.mean(np.power(10.0, values / 10.0)))
    gated = values[values >= 10.0 * math.log10(mean_power) + _LRA_RELATIVE_GATE_LU]
    low, high = np.percentile(gated, _LRA_PERCENTILES)
    return float(high - low)


@dataclass(frozen=True)
class Level:
    """What matching needs to know of a side: its loudness, and how far its true peak is from full scale."""

    integrated_lufs: float | None
    true_peak_dbtp: float


@dataclass(frozen=True)
class MatchPlan:
    reference: str  # the side whose loudness the others are matched to
    target_lufs: float  # where every side lands: the reference's loudness, or lower (limited_by)
    gains_db: dict[str, float]  # per side, in the order given
    ceiling_dbtp: float
    limited_by: str | None = None  # the side whose true peak held the level below the reference's

    def describe(self) -> str:
        """One line for a user: where the sides were matched, and why there when it is not the reference."""
        reference = "the input" if self.reference == "input" else self.reference
        if self.limited_by is None:
            return f"matched to {self.target_lufs:.2f} LUFS ({reference}'s loudness)"
        return (f"matched to {self.target_lufs:.2f} LUFS, below {reference}'s loudness: at that level "
                f"{self.limited_by}'s true peak would pass {self.ceiling_dbtp:g} dBTP, so every side was "
                f"matched down to the loudest level {self.limited_by} reaches without clipping")


def plan_match(levels: Mapping[str, Level], reference: str, ceiling_dbtp: float = 0.0) -> MatchPlan:
    """The gain (dB) that brings each side to the reference's loudness, or lower if a side would clip.

    A side whose true peak would pass ``ceiling_dbtp`` at the reference's
    loudness lowers the level for everyone, so the matched files stay equally
    loud and none of them clips.
    """
    if reference not in levels:
        raise MatchError(f"the reference {reference!r} is not one of the sides ({', '.join(levels)}); "
                         f"match to one of those")
    for label, level in levels.items():
        if level.integrated_lufs is None:
            raise MatchError(f"{label} is shorter than 0.4 s, so it has no integrated loudness to match; "
                             f"compare on a longer input")
        if not math.isfinite(level.integrated_lufs):
            raise MatchError(f"{label} is silent (all of it below BS.1770's -70 LUFS gate), so there is no "
                             f"loudness to match it by; "
                             f"check its chain (a gain of -inf, a muted or bypassed path?)")
    target = float(levels[reference].integrated_lufs)  # type: ignore[arg-type]
    limited_by = None
    for label, level in levels.items():
        # The loudest this side may play: its true peak lands on the ceiling.
        highest = level.integrated_lufs + (ceiling_dbtp - level.true_peak_dbtp)  # type: ignore[operator]
        if highest < target:
            target, limited_by = highest, label
    gains = {label: target - level.integrated_lufs for label, level in levels.items()}  # type: ignore[operator]
    return MatchPlan(reference, target, gains, ceiling_dbtp, limited_by)


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """``audio`` scaled by ``gain_db``, as float32 (channels, frames)."""
    return (np.asarray(audio, dtype=np.float64) * db_to_gain(gain_db)).astype(np.float32)


def match_loudness(sides: Mapping[str, np.ndarray], sample_rate: float, reference: str,
                   ceiling_dbtp: float = 0.0) -> tuple[MatchPlan, dict[str, np.ndarray]]:
    """Measure every side, plan the match and apply it: (the plan, each side at matched loudness)."""
    levels = {}
    for label, audio in sides.items():
        audio = np.asarray(audio)
        levels[label] = Level(integrated_loudness(audio, sample_rate), gain_to_db(true_peak(audio, sample_rate)))
    plan = plan_match(levels, reference, ceiling_dbtp)
    return plan, {label: apply_gain(audio, plan.gains_db[label]) for label, audio in sides.items()}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
