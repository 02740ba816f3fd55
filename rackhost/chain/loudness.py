"""Loudness and peak measurement of rendered audio (ITU-R BS.1770-4 via pyloudnorm)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rackhost.chain.dsp import gain_to_db

# BS.1770-4 Annex 2: true peak is estimated on a 4x oversampled signal
# (at 48 kHz and below; 2x is enough above 96 kHz).
_TRUE_PEAK_OVERSAMPLING = 4
_MIN_GATED_SECONDS = 0.4  # one gating block: shorter audio has no integrated loudness


@dataclass(frozen=True)
class LoudnessReport:
    peak_dbfs: float
    true_peak_dbtp: float
    integrated_lufs: float | None  # None when the audio is shorter than one 400 ms gating block
    seconds: float

    def lines(self) -> list[str]:
        lufs = "n/a (shorter than 0.4 s)" if self.integrated_lufs is None else _fmt(self.integrated_lufs, "LUFS")
        return [
            f"length           {self.seconds:.2f} s",
            f"peak             {_fmt(self.peak_dbfs, 'dBFS')}",
            f"true peak        {_fmt(self.true_peak_dbtp, 'dBTP')}",
            f"integrated       {lufs}",
        ]

    def to_dict(self) -> dict:
        return {
            "peak_dbfs": _json_number(self.peak_dbfs),
            "true_peak_dbtp": _json_number(self.true_peak_dbtp),
            "integrated_lufs": None if self.integrated_lufs is None else _json_number(self.integrated_lufs),
            "seconds": self.seconds,
        }


def measure(audio: np.ndarray, sample_rate: float) -> LoudnessReport:
    """Peak, true peak and integrated loudness of ``audio`` shaped (channels, frames)."""
    audio = np.asarray(audio, dtype=np.float64)
    frames = audio.shape[1]
    peak = float(np.max(np.abs(audio))) if frames else 0.0
    return LoudnessReport(
        peak_dbfs=gain_to_db(peak),
        true_peak_dbtp=gain_to_db(true_peak(audio, sample_rate)),
        integrated_lufs=integrated_loudness(audio, sample_rate),
        seconds=frames / sample_rate,
    )


def true_peak(audio: np.ndarray, sample_rate: float) -> float:
    """Linear true peak: the sample peak of the signal oversampled per BS.1770-4 Annex 2."""
    if audio.shape[1] == 0:
        return 0.0
    from scipy.signal import resample_poly  # imported on first use: scipy takes ~0.8 s to import

    factor = 2 if sample_rate > 96000 else _TRUE_PEAK_OVERSAMPLING
    upsampled = resample_poly(audio, factor, 1, axis=1)
    # The interpolation filter rings where the signal is cut off (a window taken mid-waveform),
    # reading high there; its ends are left out (the sample peak still covers them).
    edge = 20 * factor
    if upsampled.shape[1] > 4 * edge:
        upsampled = upsampled[:, edge:-edge]
    return float(max(np.max(np.abs(upsampled)), np.max(np.abs(audio))))


def integrated_loudness(audio: np.ndarray, sample_rate: float) -> float | None:
    if audio.shape[1] < _MIN_GATED_SECONDS * sample_rate:
        return None
    import pyloudnorm  # on first use, like scipy, which it imports

    meter = pyloudnorm.Meter(sample_rate)  # BS.1770-4 K-weighting and gating
    value = float(meter.integrated_loudness(audio.T))
    return value if math.isfinite(value) else -math.inf


def _fmt(value: float, unit: str) -> str:
    return f"-inf {unit}" if value == -math.inf else f"{value:6.2f} {unit}"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def windowed_loudness(audio: np.ndarray, sample_rate: float, windows: tuple[float, ...]) -> list[float]:
    """Ungated loudness (LUFS) of the last ``w`` seconds of ``audio`` for each ``w`` in ``windows``.

    BS.1770's momentary (0.4 s) and short-term (3 s) loudness. The K-weighting
    runs over all of ``audio`` first, so a window does not start with the
    filter's own settling.
    """
    weighted = _k_weighted(audio, sample_rate).T
    out = []
    for seconds in windows:
        n = int(seconds * sample_rate)
        if weighted.shape[0] < n or n == 0:
            out.append(-math.inf)
            continue
        power = float(np.sum(np.mean(np.square(weighted[-n:]), axis=0)))  # channel weights are 1 for L/R
        out.append(-0.691 + 10 * math.log10(power) if power > 0 else -math.inf)
    return out


def loudness_over_time(audio: np.ndarray, sample_rate: float, window: float = 3.0,
                       hop: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Ungated loudness (LUFS) of the ``window`` seconds ending every ``hop`` seconds, for a level plot.

    ``window=3.0`` is BS.1770's short-term loudness, ``0.4`` its momentary
    loudness. Returns (end time of each window in seconds, LUFS); the first
    windows, before ``window`` seconds have passed, average what there is.
    Silence is ``-inf``.
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be positive seconds, got {window!r} and {hop!r}")
    frames = np.asarray(audio).shape[1]
    step, span = max(1, int(round(hop * sample_rate))), max(1, int(round(window * sample_rate)))
    ends = np.arange(step, frames + 1, step)
    if ends.size == 0:
        return np.zeros(0), np.zeros(0)
    power = np.sum(np.square(_k_weighted(audio, sample_rate)), axis=0)  # channel weights are 1 for L/R
    cumulative = np.concatenate(([0.0], np.cumsum(power)))
    starts = np.maximum(ends - span, 0)
    mean = (cumulative[ends] - cumulative[starts]) / (ends - starts)
    with np.errstate(divide="ignore"):
        lufs = np.where(mean > 0, -0.691 + 10 * np.log10(np.maximum(mean, 1e-300)), -math.inf)
    return ends / sample_rate, lufs


def _k_weighted(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """``audio`` (channels, frames) through BS.1770's K-weighting, as float64."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    weighted = np.array(audio, dtype=np.float64)
    for stage in meter._filters.values():  # pyloudnorm's K-weighting (high shelf, then high pass)
        for channel in weighted:
            channel[:] = stage.apply_filter(channel)
    return weighted
