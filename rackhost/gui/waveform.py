"""Waveform overviews: the lowest and highest sample per pixel column, read once per file and cached.

A file is read on a worker thread of its own, block by block, into fine peaks
(:data:`BIN` frames per bucket), and kept under its path, modification time
and size: the timeline asks again when the window is resized or the session
changes, and gets the cached peaks back, reduced to its width with numpy. The
frame loop never reads audio and never computes peaks per frame.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

BIN = 256  # frames per fine bucket kept per file: 11 minutes of 48 kHz audio is ~1 MB of peaks
READ_FRAMES = BIN * 4096  # a file is read this much at a time, so a long one never sits whole in memory

FileKey = tuple[str, int, int]  # resolved path, mtime in ns, size: a file rewritten in place is read again


def peaks(audio: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest sample of ``audio`` ((channels, frames) or (frames,)) in each of ``buckets``
    equal runs of frames, over all channels.

    Bucket ``k`` covers frames ``k * n // buckets`` up to the next bucket's first;
    with fewer frames than buckets a frame is shown in every bucket that falls on it.
    """
    audio = np.asarray(audio)
    if audio.ndim == 2:
        lows, highs = audio.min(axis=0), audio.max(axis=0)
    elif audio.ndim == 1:
        lows = highs = audio
    else:
        raise ValueError(f"peaks take (channels, frames) or (frames,) audio; got shape {audio.shape}")
    return merge_peaks(lows, highs, buckets)


def merge_peaks(lows: np.ndarray, highs: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine peaks (a low and a high per run) reduced to ``buckets`` coarser ones, as :func:`peaks` splits."""
    if buckets < 1:
        raise ValueError(f"a waveform needs at least one bucket; got {buckets}")
    count = len(lows)
    if count == 0:
        return np.zeros(buckets, np.float32), np.zeros(buckets, np.float32)
    starts = np.arange(buckets, dtype=np.int64) * count // buckets
    # reduceat over runs that start at the same frame gives that frame: the "fewer frames than buckets" case.
    return np.minimum.reduceat(lows, starts), np.maximum.reduceat(highs, starts)


@dataclass(frozen=True)
class FilePeaks:
    """A file's fine peaks: ``lows``/``highs`` per :data:`BIN` frames (the last bucket may be shorter)."""

    lows: np.ndarray
    highs: np.ndarray
    frames: int
    sample_rate: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    def columns(self, span_seconds: float, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Peaks per pixel of a ``width``-pixel view of ``span_seconds`` starting at 0 s; NaN after the file."""
        lows = np.full(width, np.nan, np.float32)
        highs = np.full(width, np.nan, np.float32)
        covered = min(width, int(np.ceil(width * self.seconds / span_seconds))) if span_seconds > 0 else 0
        if covered > 0:
            lows[:covered], highs[:covered] = merge_peaks(self.lows, self.highs, covered)
        return lows, highs


def read_peaks(path: str | Path) -> FilePeaks:
    """The fine peaks of the audio file at ``path``, read :data:`READ_FRAMES` at a time."""
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    with sf.SoundFile(str(path)) as f:
        rate, frames = f.samplerate, 0
        for block in f.blocks(blocksize=READ_FRAMES, dtype="float32", always_2d=True):
            low, high = block.min(axis=1), block.max(axis=1)
            starts = np.arange(0, len(block), BIN)
            lows.append(np.minimum.reduceat(low, starts))
            highs.append(np.maximum.reduceat(high, starts))
            frames += len(block)
    empty = np.zeros(0, np.float32)
    return FilePeaks(np.concatenate(lows) if lows else empty, np.concatenate(highs) if highs else empty, frames,
                     rate)


def file_key(path: str | Path) -> FileKey:
    stat = os.stat(path)
    return str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size


class PeakCache:
    """Files' peaks, read on a worker thread: :meth:`get` answers at once (None while the file is read)."""

    def __init__(self) -> None:
        self._done: dict[FileKey, FilePeaks | None] = {}  # None: the file could not be read
        self._pending: set[FileKey] = set()
        self._queue: queue.Queue[FileKey] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.reads = 0  # files read so far (each once per path, modification time and size)
        self.finished = 0  # bumped when a read ends: the timeline redraws when it changes

    def get(self, path: str | Path) -> FilePeaks | None:
        """The peaks of ``path`` if read already; otherwise None, and the file is queued for the worker."""
        try:
            key = file_key(path)
        except OSError:
            return None
        with self._lock:
            if key in self._done:
                return self._done[key]
            if key in self._pending:
                return None
            self._pending.add(key)
        self._queue.put(key)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="rackhost-waveforms", daemon=True)
            self._thread.start()
        return None

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            try:
                found: FilePeaks | None = read_peaks(key[0])
            except (OSError, RuntimeError, ValueError):  # sf.LibsndfileError is a RuntimeError
                found = None  # the strip says what is wrong with the file; the overview leaves it out
            with self._lock:
                self.reads += 1
                self._done[key] = found
                self._pending.discard(key)
                self.finished += 1


def overview_image(layers: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]], width: int,
                   height: int) -> np.ndarray:
    """An RGBA float image (height, width, 4) of each layer's peak columns in its colour, drawn over the ones
    before (partly see-through, so overlapping tracks both show); transparent where nothing plays."""
    image = np.zeros((height, width, 4), np.float32)
    rows = np.arange(height, dtype=np.float32)[:, None]
    for lows, highs, color in layers:
        present = ~(np.isnan(lows) | np.isnan(highs))
        low = np.clip(np.nan_to_num(lows), -1.0, 1.0)
        high = np.clip(np.nan_to_num(highs), -1.0, 1.0)
        top = np.floor((1.0 - high) / 2.0 * (height - 1))
        bottom = np.ceil((1.0 - low) / 2.0 * (height - 1))
        mask = (rows >= top[None, :]) & (rows <= bottom[None, :]) & present[None, :]
        alpha = 0.75
        rgb = np.array(color[:3], np.float32) / 255.0
        image[mask, :3] = image[mask, :3] * (1 - alpha) + rgb * alpha
        image[mask, 3] = np.maximum(image[mask, 3], 0.9)
    return image
