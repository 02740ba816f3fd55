"""Long-term average spectrum of rendered audio, for drawing a chain's tonal change against its input.

Welch's method with numpy alone: Hann-windowed FFT frames at 50% overlap, their
power averaged over frames and channels, then gathered into log-spaced bands
(the way an ear, and every analyser on a mixing desk, reads frequency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_FFT_SIZE = 8192  # 5.9 Hz bins at 48 kHz: fine enough for a bass line's fundamentals
DEFAULT_BANDS = 160
LOWEST_HZ = 20.0
_FLOOR_DB = -200.0  # what digital silence reads, instead of -inf


@dataclass(frozen=True)
class Spectrum:
    frequencies_hz: np.ndarray
    level_db: np.ndarray  # dB relative to a full-scale sine: a sine of peak 1.0 reads 0 dB in its bin


def average_spectrum(audio: np.ndarray, sample_rate: float, fft_size: int = DEFAULT_FFT_SIZE) -> Spectrum:
    """Welch-averaged power spectrum of ``audio`` (channels, frames): one value per FFT bin, DC to Nyquist."""
    if fft_size < 16 or fft_size & (fft_size - 1):
        raise ValueError(f"fft_size must be a power of two of at least 16, got {fft_size!r}")
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    frames = audio.shape[1]
    if frames < fft_size:  # a short file is one zero-padded frame
        audio = np.pad(audio, ((0, 0), (0, fft_size - frames)))
        frames = fft_size
    hop = fft_size // 2
    starts = np.arange(0, frames - fft_size + 1, hop)
    window = np.hanning(fft_size + 1)[:-1]  # periodic Hann: overlapped at 50% it sums to a constant
    power = np.zeros(fft_size // 2 + 1)
    for channel in audio:
        segments = np.lib.stride_tricks.sliding_window_view(channel, fft_size)[starts]
        power += np.sum(np.abs(np.fft.rfft(segments * window, axis=1)) ** 2, axis=0)
    power /= len(starts) * audio.shape[0]
    # A sine of peak A gives |X| = A * sum(window) / 2 in its bin: scale so that reads A**2.
    power *= (2.0 / np.sum(window)) ** 2
    return Spectrum(np.fft.rfftfreq(fft_size, 1.0 / sample_rate), _to_db(power))


def log_bands(spectrum: Spectrum, bands: int = DEFAULT_BANDS, low_hz: float = LOWEST_HZ,
              high_hz: float | None = None) -> Spectrum:
    """``spectrum`` gathered into ``bands`` log-spaced bands from ``low_hz`` to ``high_hz`` (default Nyquist).

    Each band holds the mean power of the bins inside it; a band narrower than
    a bin (low down) takes the power interpolated at its centre, so the curve
    has no holes.
    """
    freqs = spectrum.frequencies_hz
    high_hz = float(freqs[-1]) if high_hz is None else min(high_hz, float(freqs[-1]))
    if not 0 < low_hz < high_hz:
        raise ValueError(f"bands need 0 < low_hz < high_hz, got {low_hz!r} and {high_hz!r}")
    edges = np.geomspace(low_hz, high_hz, bands + 1)
    centres = np.sqrt(edges[:-1] * edges[1:])
    power = np.power(10.0, spectrum.level_db / 10.0)
    cumulative = np.concatenate(([0.0], np.cumsum(power)))
    first = np.searchsorted(freqs, edges[:-1], side="left")
    last = np.searchsorted(freqs, edges[1:], side="left")
    counts = last - first
    banded = np.interp(centres, freqs, power)
    has_bins = counts > 0
    banded[has_bins] = (cumulative[last] - cumulative[first])[has_bins] / counts[has_bins]
    return Spectrum(centres, _to_db(banded))


def _to_db(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power), _FLOOR_DB)


def db_span(*spectra: Spectrum, range_db: float = 90.0) -> tuple[float, float]:
    """A shared dB axis for drawing ``spectra``: from ``range_db`` below the top, top rounded up to 10 dB."""
    top = max(float(np.max(s.level_db)) for s in spectra)
    top = 10.0 * math.ceil(top / 10.0)
    return top - range_db, top
