"""The master's loudness meters, fed from the live engine's master ring on the control thread.

ITU-R BS.1770-4 / EBU R 128 measured incrementally: the K-weighted signal's
mean square is kept per 100 ms step, so momentary (400 ms) and short-term
(3 s) loudness are means of the last 4 and 30 steps, and integrated loudness
is gated over the 400 ms blocks (75% overlap) since the meter was reset. True
peak is the sample peak of the signal oversampled 4x (BS.1770-4 Annex 2). Each
update costs one filter pass over the frames that arrived since the last one,
so the control thread holds the GIL only briefly (the audio callback shares it).
"""

from __future__ import annotations

import collections
import math
import time

import numpy as np

from rackhost.chain.loudness import interpolated_peak

STEP_SECONDS = 0.1
MOMENTARY_STEPS = 4  # 400 ms
SHORT_TERM_STEPS = 30  # 3 s
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
TRUE_PEAK_WINDOW_SECONDS = 0.4
_EDGE = 16  # input frames at each end of a chunk that the oversampling filter (10 taps a side) reads past


def lufs(mean_square: float) -> float:
    """BS.1770 loudness of a channel-summed K-weighted mean square."""
    return -0.691 + 10.0 * math.log10(mean_square) if mean_square > 0.0 else -math.inf


class LoudnessMeter:
    """Momentary, short-term and integrated loudness and true peak of a stream fed in chunks of any length."""

    def __init__(self, sample_rate: float, channels: int = 2, peaks: bool = True):
        import pyloudnorm  # BS.1770-4 K-weighting coefficients (high shelf, then high pass)

        self.sample_rate = float(sample_rate)
        self.channels = channels
        filters = pyloudnorm.Meter(self.sample_rate)._filters.values()
        self._stages = [(f.b, f.a, f.passband_gain) for f in filters]
        self._step = max(1, int(round(STEP_SECONDS * self.sample_rate)))
        self._tp_window = int(TRUE_PEAK_WINDOW_SECONDS * self.sample_rate)
        self.integrating = True  # False: momentary, short-term and true peak go on; the integrated ones hold
        self.peaks = peaks  # False: loudness only (a match measures no true peak, and oversampling costs most)
        self.reset()

    def reset(self) -> None:
        """Start again from silence: the filters' state, every window and the integrated measurement."""
        self._zi = [np.zeros((self.channels, max(len(a), len(b)) - 1)) for b, a, _ in self._stages]
        self._partial = 0.0  # channel-summed square sum of the step being filled
        self._partial_frames = 0
        self._steps: collections.deque[float] = collections.deque(maxlen=SHORT_TERM_STEPS)
        self._tail = np.zeros((self.channels, 2 * _EDGE))  # the last input frames, for oversampling across chunks
        self._peaks: collections.deque[tuple[int, float]] = collections.deque(maxlen=256)  # (frames, true peak)
        self.reset_integrated()

    def reset_integrated(self) -> None:
        """Integrated loudness and maximum true peak measure from here (play from stop, record)."""
        self._blocks = np.zeros(1024)  # mean square of each 400 ms gating block since the reset
        self._block_count = 0
        self._fresh_steps = 0  # steps since the reset: a gating block needs 4
        self.true_peak_max = 0.0

    def feed(self, audio: np.ndarray) -> None:
        """Measure ``audio`` (channels, frames), the frames that followed the last chunk fed."""
        from scipy.signal import lfilter  # scipy takes ~0.8 s to import: on first use

        if audio.shape[1] == 0:
            return
        x = np.asarray(audio, np.float64)
        weighted = x
        for (b, a, gain), zi in zip(self._stages, self._zi):
            weighted, zi[...] = lfilter(b, a, weighted, axis=1, zi=zi)
            if gain != 1.0:
                weighted = weighted * gain
        self._add_power(np.sum(np.square(weighted), axis=0))
        if not self.peaks:
            return
        # True peak: oversample the chunk with its neighbours' frames, keep only the part no edge reaches.
        joined = np.concatenate((self._tail, x), axis=1)
        peak = max(interpolated_peak(joined, _EDGE, joined.shape[1] - _EDGE, self.sample_rate),
                   float(x.max()), -float(x.min()))
        self._tail = joined[:, -2 * _EDGE :].copy()
        self._peaks.append((x.shape[1], peak))
        if self.integrating:
            self.true_peak_max = max(self.true_peak_max, peak)

    def _add_power(self, power: np.ndarray) -> None:
        pos, n = 0, power.shape[0]
        while pos < n:
            take = min(self._step - self._partial_frames, n - pos)
            self._partial += float(np.sum(power[pos : pos + take]))
            self._partial_frames += take
            pos += take
            if self._partial_frames == self._step:
                self._steps.append(self._partial / self._step)
                self._partial, self._partial_frames = 0.0, 0
                self._fresh_steps += 1
                if self._fresh_steps >= MOMENTARY_STEPS and self.integrating:
                    self._add_block(self._mean_of_last(MOMENTARY_STEPS))

    def _add_block(self, mean_square: float) -> None:
        if self._block_count == self._blocks.shape[0]:
            self._blocks = np.concatenate((self._blocks, np.zeros_like(self._blocks)))
        self._blocks[self._block_count] = mean_square
        self._block_count += 1

    def _mean_of_last(self, steps: int) -> float:
        return sum(list(self._steps)[-steps:]) / steps

    @property
    def momentary(self) -> float:
        """LUFS over the last 400 ms (-inf before 400 ms have been fed)."""
        return lufs(self._mean_of_last(MOMENTARY_STEPS)) if len(self._steps) >= MOMENTARY_STEPS else -math.inf

    @property
    def short_term(self) -> float:
        """LUFS over the last 3 s (-inf before 3 s have been fed)."""
        return lufs(self._mean_of_last(SHORT_TERM_STEPS)) if len(self._steps) >= SHORT_TERM_STEPS else -math.inf

    @property
    def integrated(self) -> float:
        """Gated LUFS since :meth:`reset_integrated` (-inf before the first 400 ms block or if all is below -70)."""
        blocks = self._blocks[: self._block_count]
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10.0 * np.log10(blocks)
        above = blocks[loudness > ABSOLUTE_GATE_LUFS]
        if above.size == 0:
            return -math.inf
        relative = lufs(float(np.mean(above))) + RELATIVE_GATE_LU
        gated = blocks[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative)]
        return lufs(float(np.mean(gated)))

    @property
    def true_peak(self) -> float:
        """Linear true peak over about the last 400 ms (whole chunks)."""
        frames, peak = 0, 0.0
        for n, p in reversed(self._peaks):
            peak = max(peak, p)
            frames += n
            if frames >= self._tp_window:
                break
        return peak


# -- strip meters: peak since the last read, RMS over a stated window ---------------------------------------

METER_FLOOR_DB = -120.0  # below this a level reads -inf: reverb tails and denormals are not signal
METER_FLOOR = 10.0 ** (METER_FLOOR_DB / 20.0)
RMS_WINDOW_SECONDS = 0.3  # the strips' RMS: the mean square of the last 300 ms (whole blocks)
PEAK_HOLD_SECONDS = 2.0
BLOCK_HISTORY_SECONDS = 3.0  # a reader that reads at least this often never misses a block
METER_FIELDS = ("peak", "rms", "peak_hold", "clip")


class BlockLevels:
    """Every strip's peak and sum of squares for each block, in a ring that readers follow by block count.

    The audio callback writes one row per block (:func:`rackhost.live.callback.meter`), then the
    transport position that block played, then bumps :attr:`count`; nothing is cleared, so any number
    of readers can each keep their own place (a :class:`MeterReader`) and none misses a block that
    another one took. Rows: ``tracks`` (session track indices), then ``busses`` (by name, each after
    its fader), then the master.
    """

    __slots__ = ("blocks", "positions", "count", "size", "block", "tracks", "busses")

    def __init__(self, tracks: tuple[int, ...], block: int, sample_rate: float, busses: tuple[str, ...] = ()):
        self.size = max(16, math.ceil(BLOCK_HISTORY_SECONDS * sample_rate / block))
        rows = len(tracks) + len(busses) + 1
        self.blocks = np.zeros((self.size, rows, 2, 2), np.float32)  # (.., [peak, sum of squares])
        self.positions = np.zeros(self.size, np.int64)
        self.count = 0  # blocks written; the row of block n is n % size
        self.block = block
        self.tracks = tracks
        self.busses = busses

    @property
    def strips(self) -> tuple[tuple[str, int | str], ...]:
        """What each row but the master's meters: ("track", session index) or ("bus", name)."""
        return tuple(("track", t) for t in self.tracks) + tuple(("bus", b) for b in self.busses)

    def window(self, first: int, end: int) -> np.ndarray:
        """The rows of blocks ``first`` .. ``end - 1`` (at most the last :attr:`size`), oldest first."""
        first = max(first, end - self.size, 0)
        return self.blocks[np.arange(first, end) % self.size]


class MeterReader:
    """One reader's view of the strip meters: what happened since *this* reader last looked.

    Each read returns, per row and channel, [peak since the last read, RMS over
    :data:`RMS_WINDOW_SECONDS`, peak held for :data:`PEAK_HOLD_SECONDS`, clip]
    (clip latches once a sample reached full scale, until :meth:`reset_clips`).
    Levels below :data:`METER_FLOOR_DB` read 0 (-inf dBFS). ``covered`` holds
    the transport positions of the blocks the last read took in.
    """

    def __init__(self, sample_rate: float):
        self.sample_rate = float(sample_rate)
        self._levels: BlockLevels | None = None
        self._cursor = 0
        self._hold: np.ndarray | None = None
        self._held_at: np.ndarray | None = None
        self._clips: np.ndarray | None = None
        self.covered = np.zeros(0, np.int64)

    def reset_clips(self, row: int | None = None) -> None:
        """Let every row's clip go, or ``row``'s alone."""
        if self._clips is not None:
            if row is None:
                self._clips[:] = 0.0
            elif row < self._clips.shape[0]:
                self._clips[row] = 0.0

    def read(self, levels: BlockLevels) -> np.ndarray:
        """(rows, 2 channels, [peak, rms, peak hold, clip]) from ``levels``, the engine's current ring."""
        end = levels.count  # read once: the callback may add a block while this runs
        peak = np.zeros((levels.blocks.shape[1], 2), np.float32)
        if levels is not self._levels:  # the strips changed: finish the old ring, row by session track or bus
            old = self._levels
            if old is not None:
                rows = {strip: k for k, strip in enumerate(levels.strips)}
                rest = old.window(self._cursor, old.count)[:, :, :, 0].max(axis=0, initial=0.0)
                for k, strip in enumerate(old.strips):
                    if strip in rows:
                        peak[rows[strip]] = rest[k]
                peak[-1] = rest[-1]
            self._levels, self._cursor = levels, 0
        taken = levels.window(self._cursor, end)
        covered = np.arange(max(self._cursor, end - levels.size, 0), end) % levels.size
        self.covered = levels.positions[covered].copy()
        self._cursor = end
        np.maximum(peak, taken[:, :, :, 0].max(axis=0, initial=0.0), out=peak)
        window = max(1, round(RMS_WINDOW_SECONDS * self.sample_rate / levels.block))
        recent = levels.window(end - window, end)
        frames = window * levels.block  # before the stream (or these rows) began counts as silence
        rms = np.sqrt(recent[:, :, :, 1].sum(axis=0, dtype=np.float64) / frames).astype(np.float32)
        peak[peak < METER_FLOOR] = 0.0
        rms[rms < METER_FLOOR] = 0.0
        return np.stack((peak, rms, self._held(peak), self._latched(peak)), axis=2)

    def _held(self, peak: np.ndarray) -> np.ndarray:
        now = time.monotonic()
        if self._hold is None or self._hold.shape != peak.shape:
            self._hold = peak.copy()
            self._held_at = np.full(peak.shape, now)
        higher = (peak >= self._hold) | (now - self._held_at > PEAK_HOLD_SECONDS)
        self._hold[higher] = peak[higher]
        self._held_at[higher] = now
        return self._hold.copy()

    def _latched(self, peak: np.ndarray) -> np.ndarray:
        if self._clips is None or self._clips.shape != peak.shape:
            self._clips = np.zeros_like(peak)
        np.maximum(self._clips, peak >= 1.0, out=self._clips)
        return self._clips.copy()
