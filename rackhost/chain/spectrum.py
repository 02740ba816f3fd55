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


# -- the live view's analysis: what the window draws from the frames an engine's spectrum tap gathered -------

LIVE_FFT_SIZE = 4096  # 11.7 Hz bins at 48 kHz; a tap holds two frames' worth, so the curve settles in ~170 ms
SMOOTHING_FRACTION = 6  # 1/6 octave: what mixing analysers show by default, fine enough to see a resonance
PEAK_DECAY_DB_PER_SECOND = 12.0


def smoothed(spectrum: Spectrum, fraction: int = SMOOTHING_FRACTION, low_hz: float = LOWEST_HZ,
             high_hz: float | None = None) -> Spectrum:
    """``spectrum`` in 1/``fraction``-octave bands from ``low_hz`` up to at most ``high_hz`` (default Nyquist)."""
    if isinstance(fraction, bool) or not isinstance(fraction, int) or fraction < 1:
        raise ValueError(f"the smoothing fraction is bands per octave, 1 or more; got {fraction!r}")
    top = float(spectrum.frequencies_hz[-1]) if high_hz is None else min(high_hz, float(spectrum.frequencies_hz[-1]))
    bands = max(1, math.floor(math.log2(top / low_hz) * fraction))
    return log_bands(spectrum, bands, low_hz, low_hz * 2.0 ** (bands / fraction))


def live_spectrum(frames: np.ndarray, sample_rate: float, fraction: int = SMOOTHING_FRACTION) -> Spectrum:
    """The smoothed spectrum of a tap's frames ((channels,) frames), as the live view draws it."""
    fft_size = min(LIVE_FFT_SIZE, 1 << max(4, int(np.atleast_2d(frames).shape[1]).bit_length() - 1))
    return smoothed(average_spectrum(frames, sample_rate, fft_size), fraction)


class PeakHold:
    """Each band's highest level, falling at ``decay_db_per_second`` once the signal drops below it."""

    def __init__(self, decay_db_per_second: float = PEAK_DECAY_DB_PER_SECOND):
        self.decay_db_per_second = decay_db_per_second
        self.level_db: np.ndarray | None = None

    def update(self, level_db: np.ndarray, elapsed_seconds: float) -> np.ndarray:
        """The held levels after ``elapsed_seconds`` more, with ``level_db`` the newest curve."""
        if self.level_db is None or self.level_db.shape != level_db.shape:
            self.level_db = np.array(level_db, np.float64)
        else:
            fallen = self.level_db - self.decay_db_per_second * max(0.0, elapsed_seconds)
            self.level_db = np.maximum(fallen, level_db)
        return self.level_db.copy()

    def reset(self) -> None:
        self.level_db = None


def rms_db(frames: np.ndarray) -> float:
    """RMS level of ``frames`` in dBFS (-inf for digital silence)."""
    mean_square = float(np.mean(np.square(np.asarray(frames, np.float64)))) if np.size(frames) else 0.0
    return 10.0 * math.log10(mean_square) if mean_square > 0.0 else -math.inf


def estimated_gain_reduction_db(before: np.ndarray, after: np.ndarray) -> float | None:
    """How many dB quieter ``after`` is than ``before`` by short RMS (negative: louder), None if ``before`` is silent.

    An estimate of a dynamics processor's gain reduction where the back end does
    not report its own: the make-up gain and any EQ in the same chain count too.
    """
    level_in, level_out = rms_db(before), rms_db(after)
    if not math.isfinite(level_in) or level_in < -100.0:
        return None
    return level_in - max(level_out, level_in - 200.0)


def reduction_figure(db: float, digits: int = 1) -> str:
    """A gain reduction of ``db`` as a meter says it: ``3.9`` (that much quieter), ``+3.9`` where it is negative
    (that much louder: a gain), never ``-3.9``; ``0.0``, not ``-0.0``."""
    shown = round(db, digits)
    return f"+{-shown:.{digits}f}" if shown < 0 else f"{abs(shown):.{digits}f}"


def reduction_text(db: float, estimated: bool = True) -> str:
    """``GR ~3.9 dB est.``, or ``gain ~+3.9 dB est.`` for a stage that makes louder (a negative reduction reads as
    the gain it is); a plug-in's own figure (not ``estimated``) without ``~`` and ``est.``."""
    word = "gain" if round(db, 1) < 0 else "GR"
    return f"{word} {'~' if estimated else ''}{reduction_figure(db)} dB{' est.' if estimated else ''}"
