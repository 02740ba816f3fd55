"""The spectrum view's tap: one strip's signal before and after its chain, for analysis off the audio thread.

The audio callback's whole cost is copying blocks into rings: :meth:`SpectrumTap.write`
copies the strip's block before and after its chain (two numpy copies), and a
chain of several stages copies each inner stage's output too
(:meth:`StageRing.stage`), and only while a window watches a strip (the engine
holds no tap otherwise, and the callback skips it). Everything measured from
them runs on the control thread: the estimated gain reduction per stage
(:meth:`SpectrumTap.reduction_db`), and in the window's process the FFT,
smoothing and peak hold (:func:`rackhost.chain.spectrum.live_spectrum`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rackhost.chain.spectrum import reduction_text

TAP_FRAMES = 8192  # two 4096-point FFT frames: 170 ms at 48 kHz
_SPARE = 1024  # frames at the ring's old end a reader leaves out: the callback may overwrite them meanwhile


def _touched(shape: tuple[int, ...]) -> np.ndarray:
    """Zeros in memory written once here: np.zeros may map a 128 KB array lazily (a fresh mmap), and the audio
    thread's first copies into it would then each take a page fault."""
    ring = np.empty(shape, np.float32)
    ring.fill(0.0)
    return ring


def _block_views(ring: np.ndarray, block: int) -> dict[int, np.ndarray]:
    """Start frame -> the view of ``ring`` (.., frames) holding the block that starts there, made once, so a
    block-aligned write costs one copy and no slicing (empty when the blocks do not tile the ring)."""
    frames = ring.shape[-1]
    if block <= 0 or frames % block:
        return {}
    return {start: ring[..., start : start + block] for start in range(0, frames, block)}


def _put(row: np.ndarray, block: np.ndarray, start: int) -> None:
    """Copy ``block`` (channels, n) into ``row`` (2, frames) from ``start`` on, wrapping round (any n, any width:
    the first and last channel of a wider block)."""
    capacity = row.shape[1]
    if block.shape[0] > 2:
        block = block[:: block.shape[0] - 1]
    if block.shape[1] > capacity:
        start = (start + block.shape[1] - capacity) % capacity
        block = block[:, -capacity:]
    n = block.shape[1]
    end = start + n
    if end <= capacity:
        row[:, start:end] = block
    else:
        split = capacity - start
        row[:, start:] = block[:, :split]
        row[:, : end - capacity] = block[:, split:]


class SpectrumTap:
    """A ring of (pre, post) stereo frames of one strip: a session track's index, a bus's ``BusRow``, or None for
    the master (``kind`` says which: "track", "bus" or "master"; ``bus`` is a bus's index).

    Single producer (the audio callback), any number of readers, no lock: a reader
    copies :attr:`ring` and may see the block being written torn, which an
    analyser's average hides. A mono block fills both channels.
    """

    __slots__ = ("strip", "kind", "bus", "ring", "written", "block", "inner", "stage_slots", "_pre", "_post")

    def __init__(self, strip: Any, block: int = 0, frames: int = TAP_FRAMES):
        self.strip = strip
        self.kind = "master" if strip is None else "track" if isinstance(strip, int) else "bus"
        self.bus = getattr(strip, "index", -1)
        self.ring = _touched((2, 2, frames))  # ([pre, post], channels, frames)
        self.written = 0  # frames the callback put in (only the callback writes this)
        self.block = block  # the session's block size: blocks of it that tile the ring are copied without slicing
        self._pre = _block_views(self.ring[0], block)
        self._post = _block_views(self.ring[1], block)
        # The watched chain's inner stages' outputs (the engine attaches them to a chain of two stages or more).
        self.inner: StageRing | None = None
        self.stage_slots: tuple[tuple[int, ...], ...] = ()  # per stage: the chain's slot indices it runs

    def write(self, pre: np.ndarray, post: np.ndarray) -> None:
        """Audio thread: copy ``pre`` and ``post`` (channels, n), the strip's block before and after its chain."""
        start = self.written % self.ring.shape[2]
        n = pre.shape[1]
        to = self._pre.get(start) if n == self.block else None
        if to is not None:
            to[...] = pre
            self._post[start][...] = post
        else:
            _put(self.ring[0], pre, start)
            _put(self.ring[1], post, start)
        self.written += n

    def frames(self) -> np.ndarray:
        """Control thread: the ring's pre and post, each the mean of its two channels, oldest frame first,
        (2 [pre, post], frames)."""
        capacity = self.ring.shape[2]
        written = self.written
        mono = np.add(self.ring[:, 0], self.ring[:, 1])  # summed first: the roll then moves a quarter as much
        mono *= np.float32(0.5)
        return np.roll(mono, -(written % capacity), axis=1)

    def reduction_db(self) -> np.ndarray:
        """Control thread: per stage of the watched chain, how many dB quieter its output is than its input over
        the ring (NaN: a silent input, or a stage whose output this process does not record: a chain of several
        stages that another process runs).

        The chain's input is the tap's pre, its last stage's output the tap's post, and an inner stage's output
        what the chain copied into :attr:`inner`: the audio thread copies, this measures."""
        stages = len(self.stage_slots)
        written = self.written  # read once: the callback may write a block while this runs
        capacity = self.ring.shape[2]
        first, end = max(0, written - capacity + _SPARE), written
        rows = [self.ring[0]]
        if stages > 1:
            inner = self.inner
            if inner is None or inner.ring.shape[0] != stages - 1 or inner.since < 0:
                return np.full(stages, np.nan)
            first, end = max(first, inner.since), min(end, inner.end)
            rows += list(inner.ring)
        rows.append(self.ring[1])
        if end <= first or stages == 0:
            return np.full(stages, np.nan)
        mean = np.array([_mean_square(row, first, end) for row in rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            level = 10.0 * np.log10(mean)
            reduction = level[:-1] - np.maximum(level[1:], level[:-1] - 200.0)
        reduction[~(level[:-1] > -100.0)] = np.nan
        return reduction


def _mean_square(row: np.ndarray, first: int, end: int) -> float:
    """Mean square of ``row`` (channels, frames), a ring, over frames ``first`` .. ``end - 1`` as counted."""
    capacity = row.shape[1]
    start, stop = first % capacity, end % capacity
    parts = (row[:, start:stop],) if start < stop else (row[:, start:], row[:, :stop])
    total = sum(float(np.einsum("ck,ck->", p, p, dtype=np.float64)) for p in parts)
    return total / ((end - first) * row.shape[0])


class StageRing:
    """The outputs of a watched chain's inner stages (all but the last, whose output is the tap's post), copied
    by the chain as it runs (:meth:`stage`) at the frames the tap's next block goes to."""

    __slots__ = ("tap", "ring", "since", "end", "_views")

    def __init__(self, tap: SpectrumTap, stages: int):
        self.tap = tap
        self.ring = _touched((stages - 1, 2, tap.ring.shape[2]))
        self._views = [_block_views(row, tap.block) for row in self.ring]
        self.since = -1  # the tap's frame count when the chain first copied (-1: not yet)
        self.end = 0  # the tap's frame count at the end of the last block the chain copied

    def stage(self, index: int, block: np.ndarray) -> None:
        """Audio thread: stage ``index``'s output (1 .. stages - 1), one copy into its row of the ring."""
        tap = self.tap
        written = tap.written
        start = written % self.ring.shape[2]
        n = block.shape[1]
        to = self._views[index - 1].get(start) if n == tap.block else None
        if to is not None:
            to[...] = block
        else:
            _put(self.ring[index - 1], block, start)
        if index == self.ring.shape[0]:  # the last inner stage: this block is whole
            if self.since < 0:
                self.since = written
            self.end = written + n


@dataclass(frozen=True)
class SlotReduction:
    """How much a stage of a watched chain reduces: ``slots`` (chain indices) it runs, ``db`` (negative: it
    makes louder), ``reported`` True where the plug-in said so itself, False for an estimate from levels."""

    slots: tuple[int, ...]
    db: float
    reported: bool = False

    @property
    def label(self) -> str:
        """``GR 20.1 dB`` as the plug-in reports it, ``GR ~3.1 dB est.`` from levels (``gain ~+3.1 dB est.``
        for a stage that makes louder)."""
        return reduction_text(self.db, estimated=not self.reported)
