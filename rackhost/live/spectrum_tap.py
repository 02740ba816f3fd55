"""The spectrum view's tap: one strip's signal before and after its chain, for analysis off the audio thread.

The audio callback's whole cost is :meth:`SpectrumTap.write`, two mono sums into
a ring, and only while a window watches a strip (the engine holds no tap
otherwise, and the callback skips it). The FFT, smoothing and peak hold run
in the window's process (:func:`rackhost.chain.spectrum.live_spectrum`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TAP_FRAMES = 8192  # two 4096-point FFT frames: 170 ms at 48 kHz


class SpectrumTap:
    """A ring of (pre, post) mono frames of one strip: a session track's index, a bus's ``BusRow``, or None for
    the master (``kind`` says which: "track", "bus" or "master"; ``bus`` is a bus's index).

    Single producer (the audio callback), any number of readers, no lock: a reader
    copies :attr:`ring` and may see the block being written torn, which an
    analyser's average hides.
    """

    __slots__ = ("strip", "kind", "bus", "ring", "written", "levels", "stage_slots")

    def __init__(self, strip: Any, frames: int = TAP_FRAMES):
        self.strip = strip
        self.kind = "master" if strip is None else "track" if isinstance(strip, int) else "bus"
        self.bus = getattr(strip, "index", -1)
        self.ring = np.zeros((2, frames), np.float32)
        self.written = 0  # frames the callback put in (only the callback writes this)
        self.levels: StageLevels | None = None  # the watched chain's per-stage levels (the engine attaches them)
        self.stage_slots: tuple[tuple[int, ...], ...] = ()  # per stage: the chain's slot indices it runs

    def write(self, pre: np.ndarray, post: np.ndarray) -> None:
        """Audio thread: the mean of the first and last channel of ``pre`` and ``post`` (channels, n)."""
        ring = self.ring
        capacity = ring.shape[1]
        n = min(pre.shape[1], capacity)
        start = self.written % capacity
        end = start + n
        if end <= capacity:
            _mono(pre, ring[0, start:end], 0, n)
            _mono(post, ring[1, start:end], 0, n)
        else:
            split = capacity - start
            _mono(pre, ring[0, start:], 0, split)
            _mono(pre, ring[0, : end - capacity], split, n)
            _mono(post, ring[1, start:], 0, split)
            _mono(post, ring[1, : end - capacity], split, n)
        self.written += n

    def frames(self) -> np.ndarray:
        """Control thread: a copy of the ring, oldest frame first, (2 [pre, post], frames)."""
        capacity = self.ring.shape[1]
        return np.roll(self.ring, -(self.written % capacity), axis=1)


def _mono(block: np.ndarray, out: np.ndarray, first: int, last: int) -> None:
    np.add(block[0, first:last], block[-1, first:last], out=out)
    out *= 0.5


@dataclass(frozen=True)
class SlotReduction:
    """How much a stage of a watched chain reduces: ``slots`` (chain indices) it runs, ``db`` (negative: it
    makes louder), ``reported`` True where the plug-in said so itself, False for an estimate from levels."""

    slots: tuple[int, ...]
    db: float
    reported: bool = False

    @property
    def label(self) -> str:
        """``GR 20.1 dB`` as the plug-in reports it, ``GR ~3.1 dB est.`` from levels."""
        return f"GR {self.db:.1f} dB" if self.reported else f"GR ~{self.db:.1f} dB est."


STAGE_BLOCKS = 64  # blocks of per-stage levels kept: 170 ms at 128 frames, as long as the tap's ring


class StageLevels:
    """Mean square of a chain's input and of each stage's output, per block, for estimated gain reduction.

    The watched chain's :meth:`~rackhost.chain.chain.ChainProcessor.run` calls :meth:`stage` on the
    audio thread (one numpy reduction per stage); the control thread reads :meth:`reduction_db`.
    """

    __slots__ = ("squares", "count", "_row")

    def __init__(self, stages: int):
        self.squares = np.zeros((STAGE_BLOCKS, stages + 1), np.float64)
        self.count = 0  # whole blocks written; block n's row is n % STAGE_BLOCKS
        self._row = 0

    def stage(self, index: int, block: np.ndarray) -> None:
        """Audio thread: ``block`` is the chain's input (``index`` 0) or stage ``index``'s output."""
        if index == 0:
            self._row = self.count % STAGE_BLOCKS
        self.squares[self._row, index] = np.einsum("ck,ck->", block, block) / block.size
        if index == self.squares.shape[1] - 1:
            self.count += 1  # last: a reader takes this row only once it is whole

    def reduction_db(self) -> np.ndarray:
        """Per stage, how many dB quieter its output is than its input over the kept blocks (NaN: silent input)."""
        rows = min(self.count, STAGE_BLOCKS)
        if rows == 0:
            return np.full(self.squares.shape[1] - 1, np.nan)
        end = self.count % STAGE_BLOCKS
        taken = self.squares[np.arange(end - rows, end) % STAGE_BLOCKS]
        mean = taken.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = 10.0 * np.log10(mean)
            reduction = level[:-1] - np.maximum(level[1:], level[:-1] - 200.0)
        reduction[~(level[:-1] > -100.0)] = np.nan
        return reduction
