"""Loudness and peak measurement of rendered audio (ITU-R BS.1770-4 via pyloudnorm).

:func:`measure` reads a whole signal; :class:`StreamMeter` reads the same figures from a signal fed block by
block (a file read or rendered a segment at a time), in bounded memory.
"""

from __future__ import annotations

import functools
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
    frames = audio.shape[1]
    if frames == 0:
        return 0.0
    sample = float(max(audio.max(), -audio.min()))
    if frames > 4 * TRUE_PEAK_EDGE:
        # The interpolation filter rings where the signal is cut off (a window taken mid-waveform),
        # reading high there; its ends are left out (the sample peak still covers them).
        return max(sample, interpolated_peak(audio, TRUE_PEAK_EDGE, frames - TRUE_PEAK_EDGE, sample_rate))
    reach = TRUE_PEAK_REACH  # a signal this short is read whole, the filter seeing silence around it
    padded = np.pad(np.asarray(audio, np.float64), ((0, 0), (reach, reach)))
    return max(sample, interpolated_peak(padded, reach, frames + reach, sample_rate))


def interpolated_peak(audio: np.ndarray, start: int, end: int, sample_rate: float,
                      dtype: type = np.float64) -> float:
    """The largest magnitude of ``audio`` (channels, frames) oversampled (4x, 2x above 96 kHz) at input frames
    ``start`` .. ``end - 1``, every phase; ``audio`` must hold :data:`TRUE_PEAK_REACH` frames either side.

    The same values as scipy's ``resample_poly`` with its default filter, computed per phase: a 20-tap
    convolution each, in float64, at a quarter of the cost (it convolved the zero-stuffed signal with
    all 81 taps and returned every oversampled frame to search).

    ``dtype=np.float32`` sums the taps in float32, a span at a time, about a quarter of the time of the float64
    convolution: for float32 audio (a file's samples) it reads the same to a millionth of a dB.
    """
    if end <= start:
        return 0.0
    factor = 2 if sample_rate > 96000 else _TRUE_PEAK_OVERSAMPLING
    center, phases = _phase_taps(factor)
    reach = TRUE_PEAK_REACH
    peak = 0.0
    for channel in audio:
        # Phase 0 lands on the samples themselves: its other taps are zeros of the sinc (1e-17 here).
        peak = max(peak, center * float(max(channel[start:end].max(), -channel[start:end].min())))
    if dtype == np.float32:
        return max(peak, _summed_peak(audio, start, end, phases))
    for channel in audio:
        x = np.asarray(channel[start - reach + 1: end + reach], np.float64)
        for taps in phases:  # 20 taps: y[n] = sum_q taps[q] x[n + 10 - q], n = start .. end - 1
            y = np.convolve(x, taps, "valid")
            peak = max(peak, float(y.max()), -float(y.min()))
    return peak


# Frames a float32 phase is summed over at a time: its buffers stay in the CPU's cache, and the matrix products
# stay on one thread (OpenBLAS splits a product of 4x as many columns across threads, which cost 5x the CPU).
_SUMMED_SPAN = 8192


def _summed_peak(audio: np.ndarray, start: int, end: int, phases: tuple[np.ndarray, ...]) -> float:
    """:func:`interpolated_peak`'s phases 1.. in float32 (numpy's convolution calls a dot product per output
    frame, and in float32 it takes twice the float64 time).

    The filter is symmetric, so each phase's taps mirror another's (4x: phase 2 its own, 1 and 3 each other;
    2x: phase 1 its own): frames the same distance either side of the output are added (and subtracted) first,
    one row each of a (taps / 2, frames) matrix, and each phase is a matrix product with half its taps (one
    BLAS call for every phase, where multiplying and adding tap by tap passed over the frames 80 times: 40%
    less CPU). Phases 1 and 3 are read as their sum ``s`` and difference ``d``, whose taps are the pair's sum
    and difference: ``max(|y1|, |y3|) = (|s| + |d|) / 2``.
    """
    reach = TRUE_PEAK_REACH
    width = len(phases[0])  # y[n] = sum_q taps[q] x[n + reach - q]; window index k is frame n - reach + 1 + k
    half = width // 2
    own = phases[len(phases) // 2]  # the phase halfway between samples: symmetric
    outer = phases[0] if len(phases) == 3 else None  # its mirror is phases[2]
    # Row q of the pairs is window frames width - 1 - q and q added, whose tap in a phase is its tap q.
    on_sums = [own[:half]] + ([outer[:half] + outer[::-1][:half]] if outer is not None else [])
    on_sums_taps = np.array(on_sums, np.float32)  # (1 or 2, half): the own phase's taps, the outer pair's sum's
    channels = audio.shape[0]
    span = min(_SUMMED_SPAN, end - start)
    sums = np.empty((half, channels * span), np.float32)
    if outer is not None:
        on_differences = np.array([outer[:half] - outer[::-1][:half]], np.float32)
        differences = np.empty((half, channels * span), np.float32)
    x = np.asarray(audio[:, start - reach + 1: end + reach], np.float32)  # x[:, k] is frame start - reach + 1 + k
    late_pairs, early_pairs = _pair_windows(x, half, end - start)  # views of every span's pairs, made once
    peak = 0.0
    for lo in range(start, end, span):
        n = min(end, lo + span) - lo
        pairs = sums[:, : channels * n]
        rows = pairs.reshape(half, channels, n)
        late, early = late_pairs[:, :, lo - start: lo - start + n], early_pairs[:, :, lo - start: lo - start + n]
        np.add(late, early, out=rows)  # every row in one call: per-call costs were a quarter of the peak's time
        if outer is not None:
            apart = differences[:, : channels * n]
            np.subtract(late, early, out=apart.reshape(half, channels, n))
        phased = on_sums_taps @ pairs
        middle = phased[0]
        peak = max(peak, float(middle.max()), -float(middle.min()))
        if outer is not None:
            both = np.abs(phased[1], out=phased[1])
            apart_phased = on_differences @ apart
            both += np.abs(apart_phased[0], out=apart_phased[0])
            peak = max(peak, 0.5 * float(both.max()))
    return peak


def _pair_windows(x: np.ndarray, half: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Views (half, channels, n) of ``x`` (channels, n + 2 * half - 1): ``late[q, :, k]`` is ``x[:, 2 * half - 1 - q
    + k]`` and ``early[q, :, k]`` is ``x[:, q + k]``, the two frames of a mirrored tap pair; no frame is copied."""
    item, row = x.strides[1], x.strides[0]
    early = np.lib.stride_tricks.as_strided(x, (half, x.shape[0], n), (item, row, item), writeable=False)
    late = np.lib.stride_tricks.as_strided(x[:, 2 * half - 1:], (half, x.shape[0], n), (-item, row, item),
                                           writeable=False)
    return late, early


@functools.lru_cache(maxsize=2)
def _phase_taps(factor: int) -> tuple[float, tuple[np.ndarray, ...]]:
    """resample_poly's default filter for ``factor`` (a Kaiser-windowed sinc of 20 * factor + 1 taps, gain
    ``factor``), split into its phases: phase 0's centre tap, and the taps of phases 1 .. factor - 1."""
    from scipy.signal import firwin

    h = firwin(20 * factor + 1, 1.0 / factor, window=("kaiser", 5.0)) * factor
    return float(h[10 * factor]), tuple(np.ascontiguousarray(h[p::factor]) for p in range(1, factor))


def integrated_loudness(audio: np.ndarray, sample_rate: float) -> float | None:
    if audio.shape[1] < _MIN_GATED_SECONDS * sample_rate:
        return None
    import pyloudnorm  # on first use, like scipy, which it imports

    meter = pyloudnorm.Meter(sample_rate)  # BS.1770-4 K-weighting and gating
    value = float(meter.integrated_loudness(audio.T))
    return value if math.isfinite(value) else -math.inf


GATE_BLOCK_SECONDS = 0.4  # BS.1770's gating block
GATE_STEP = 0.25  # blocks overlap by 75%
ABSOLUTE_GATE_LUFS = -70.0
TRUE_PEAK_CONTEXT = 64  # input frames either side of a chunk: more than the oversampling filter reaches
TRUE_PEAK_EDGE = 20  # input frames left out at each end of the signal, as true_peak() does
TRUE_PEAK_REACH = 10  # input frames either side of a frame that its oversampled values depend on
MEASURE_FRAMES = 65536  # frames gathered before they are measured: per call costs are paid per 1.4 s, not per block


class StreamMeter:
    """Peak, true peak and BS.1770-4 integrated loudness of audio fed block by block, in bounded memory.

    The K-weighting runs with its state carried across blocks (the same
    filters as pyloudnorm, as the two sections of one ``sosfilt``), the gating
    blocks' mean squares are kept (4 numbers a second), and the gating is
    pyloudnorm's, so the result is pyloudnorm's for the whole signal to rounding.
    """

    def __init__(self, sample_rate: float, channels: int, dtype: type = np.float64):
        """``dtype``: what blocks are held and oversampled in. float32 suits float32 audio (a file read, the
        batch's input): it reads the same to a millionth of a dB, quicker. A render steering on the true peak
        keeps float64, so it decides as the whole-file render's measure() does."""
        import pyloudnorm

        self.sample_rate = sample_rate
        self.channels = channels
        self._tp_dtype = dtype
        self._report: LoudnessReport | None = None
        meter = pyloudnorm.Meter(sample_rate)
        # pyloudnorm's stages (high shelf, then high pass), each its passband gain times lfilter(b, a), as the
        # sections of one sosfilt: one pass over the block instead of two, and no array between them.
        self._sos = np.array([np.concatenate([f.b * f.passband_gain, f.a]) / f.a[0] for f in meter._filters.values()])
        self._state = np.zeros((len(self._sos), channels, 2))
        self._squares = np.zeros((channels, 0))  # the K-weighted frames squared that the next pieces need
        self._start = 0  # frame index of _squares[:, 0]
        # A gating block is 4 steps long, so it is the sum of 4 pieces (the sums of squares over one step each,
        # pyloudnorm's block starts as bounds): each frame is summed once, not once for each block it is in.
        self._pieces = np.zeros((channels, 0))  # (channels, pieces): sums of squares of the pieces blocks still need
        self._first_piece = 0  # the index of _pieces[:, 0]
        self._blocks: list[np.ndarray] = []  # each gating block's mean square per channel
        self.frames = 0  # frames added
        self._done = 0  # frames measured: blocks are gathered up to MEASURE_FRAMES first (fewer, longer runs)
        self._pending: list[np.ndarray] = []
        self.peak = 0.0
        self._tp_peak = 0.0
        self._tp_tail = np.zeros((channels, 0), dtype)  # the last input frames, context for the next chunk
        self._tp_next = TRUE_PEAK_EDGE  # index in the tail of the first frame not yet read

    def add(self, block: np.ndarray, kept: bool = False) -> None:
        """Measure ``block`` (channels, n) after what was added before. ``kept``: the caller never writes into
        ``block`` afterwards (a slice of a file's samples), so it is held as it is until measured, not copied."""
        if block.shape[1] == 0:
            return
        self._report = None
        held = kept and block.dtype == self._tp_dtype
        self._pending.append(block if held else np.array(block, dtype=self._tp_dtype))  # else the caller may reuse it
        self.frames += block.shape[1]
        if self.frames - self._done >= MEASURE_FRAMES:
            self._measure_pending()

    def _measure_pending(self) -> None:
        from scipy.signal import sosfilt

        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending, axis=1)
        self._pending = []
        self.peak = max(self.peak, float(block.max()), -float(block.min()))
        self._true_peak(block, final=False)
        weighted, self._state = sosfilt(self._sos, block, axis=1, zi=self._state)  # float64, as the state is
        np.square(weighted, out=weighted)  # each frame squared once, not once for each of the 4 blocks it is in
        self._squares = np.concatenate([self._squares, weighted], axis=1) if self._squares.size else weighted
        self._done += block.shape[1]
        self._gate_blocks(self._done)

    def _bounds(self, j: int) -> tuple[int, int]:
        # pyloudnorm's block bounds, computed its way (the float products round the same).
        lower = int(GATE_BLOCK_SECONDS * (j * GATE_STEP) * self.sample_rate)
        upper = int(GATE_BLOCK_SECONDS * (j * GATE_STEP + 1) * self.sample_rate)
        return lower, upper

    def _piece_sums(self, k: int, until: int, whole: bool) -> np.ndarray:
        """(channels, m): the sums of squares of pieces ``k``, ``k + 1``, ... that end by frame ``until``; unless
        ``whole``, also the one ``until`` cuts, summed up to it (the end of the signal)."""
        starts = []
        while self._bounds(k + len(starts) + 1)[0] <= until:
            starts.append(self._bounds(k + len(starts))[0])
        stop = self._bounds(k + len(starts))[0]
        if not whole and stop < until:
            starts.append(stop)
            stop = until
        if not starts:
            return np.zeros((self.channels, 0))
        squares = self._squares[:, starts[0] - self._start: stop - self._start]
        return np.add.reduceat(squares, np.asarray(starts) - starts[0], axis=1)

    def _gate_blocks(self, until: int, last: int | None = None) -> None:
        first = self._first_piece
        end = first + self._pieces.shape[1]  # the index of the next piece to sum
        pieces = self._pieces = np.concatenate([self._pieces, self._piece_sums(end, until, True)], axis=1)
        end = first + pieces.shape[1]
        if last is not None:  # the end: the blocks it cuts take what there is of their pieces
            pieces = np.concatenate([pieces, self._piece_sums(end, until, False)], axis=1)
            short = last + 3 - (first + pieces.shape[1])
            if short > 0:
                pieces = np.concatenate([pieces, np.zeros((self.channels, short))], axis=1)
        j = len(self._blocks)
        count = first + pieces.shape[1] - 3 if last is None else last
        if count > j:
            a, b = j - first, count - first  # block i is pieces i .. i + 3
            sums = pieces[:, a: b] + pieces[:, a + 1: b + 1] + pieces[:, a + 2: b + 2] + pieces[:, a + 3: b + 3]
            self._blocks.extend(sums.T / (GATE_BLOCK_SECONDS * self.sample_rate))
        keep = min(len(self._blocks), end) - first  # the next block's first piece on
        self._pieces = self._pieces[:, keep:]
        self._first_piece += keep
        lower, _ = self._bounds(end)
        drop = min(max(0, lower - self._start), self._squares.shape[1])
        self._squares = self._squares[:, drop:]
        self._start += drop

    def _true_peak(self, block: np.ndarray, final: bool) -> None:
        """Oversample each chunk with the frames either side it needs, so it reads as the whole signal would;
        the signal's own ends are left out, as :func:`true_peak` leaves them out."""
        buffer = np.concatenate([self._tp_tail, block], axis=1) if self._tp_tail.size else block
        start = self._tp_next
        end = buffer.shape[1] - (TRUE_PEAK_EDGE if final else TRUE_PEAK_CONTEXT)
        if end <= start:  # too short to read yet: wait for more
            self._tp_tail = buffer
            return
        self._tp_peak = max(self._tp_peak, interpolated_peak(buffer, start, end, self.sample_rate, self._tp_dtype))
        keep = max(0, end - TRUE_PEAK_CONTEXT)  # the context the next chunk needs (or all, back to the start)
        self._tp_tail = buffer[:, keep:]
        self._tp_next = end - keep

    def integrated_lufs(self) -> float | None:
        """pyloudnorm's integrated loudness of what was added; None under one gating block, -inf for silence."""
        if self.frames < GATE_BLOCK_SECONDS * self.sample_rate:
            return None
        self._measure_pending()
        seconds = self.frames / self.sample_rate
        count = int(np.round((seconds - GATE_BLOCK_SECONDS) / (GATE_BLOCK_SECONDS * GATE_STEP))) + 1
        self._gate_blocks(self.frames, last=count)
        z = np.array(self._blocks[:count]).T  # (channels, blocks); BS.1770's channel weights are 1 for L and R
        with np.errstate(divide="ignore", invalid="ignore"):
            loudness = -0.691 + 10.0 * np.log10(np.sum(z, axis=0))
            above = z[:, loudness >= ABSOLUTE_GATE_LUFS]
            if not above.shape[1]:  # silence, or nearly: no block passes the absolute gate
                return -math.inf
            relative = -0.691 + 10.0 * np.log10(np.sum(np.mean(above, axis=1))) - 10.0
            gated = z[:, (loudness > relative) & (loudness > ABSOLUTE_GATE_LUFS)]
            mean = np.nan_to_num(np.mean(gated, axis=1)) if gated.shape[1] else np.zeros(z.shape[0])
            value = -0.691 + 10.0 * np.log10(np.sum(mean))
        return float(value) if math.isfinite(value) else -math.inf

    def report(self) -> LoudnessReport:
        if self._report is None:
            self._measure_pending()
            if 0 < self.frames <= 4 * TRUE_PEAK_EDGE:
                # true_peak() keeps the ends of a signal this short: all of it is still buffered here.
                oversampled = true_peak(self._tp_tail, self.sample_rate)
            else:
                if self.frames:
                    self._true_peak(np.zeros((self.channels, 0), self._tp_dtype), final=True)
                oversampled = self._tp_peak
            true = max(oversampled, self.peak)
            self._report = LoudnessReport(gain_to_db(self.peak), gain_to_db(true), self.integrated_lufs(),
                                          self.frames / self.sample_rate)
        return self._report


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
