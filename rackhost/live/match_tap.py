"""Matching from what plays: a strip's input and its chain's output over the last N seconds.

The offline match (:mod:`rackhost.chain.audition_measure`) renders the loop
range again, which a live input cannot be (it has no file), and an engineer
listening expects the match to be made on what just played. A strip's
audition stage computes both sides in every block anyway (the chain's output,
and its input delayed by the chain's latency, which ``in`` and ``delta``
play), and, during a blind test, the other side too; so it copies them into a
:class:`MatchTap` once a strip listens for matching.

Real-time rules: the audio thread's whole cost is :meth:`MatchTap.write`, one
slice assignment per side into a ring allocated when listening starts. In an
engine process the ring is a block of shared memory the parent made, so the
window reads it directly; the loudness (BS.1770 K-weighting and gating) is
measured in the reader's process, never in the callback, and in an engine
run in-process it is measured in slices between blocks (:func:`played_offsets`
with a ``pause``), so no long GIL hold delays the callback.

What each side is: the input side is what the strip's chain hears, latency
aligned; the chain side is the chain's output before the matching gain (so a
measurement does not depend on the gain playing now). Both cover the same
frames. The other A/B setting only runs during a blind test: otherwise each
setting is measured while it plays (a switch of setting starts the ring's
measured span again), and the setting not playing keeps its last offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rackhost.chain.audition import Audition
from rackhost.chain.matching import MatchError

DEFAULT_SECONDS = 10.0
MIN_SECONDS = 1.0
MAX_SECONDS = 60.0
MARGIN_SECONDS = 1.0  # kept beyond what is measured: a reader copying the ring stays ahead of the writer
SLICE_SECONDS = 0.1  # what an in-process measurement feeds the meter between two blocks
SIDES = 3  # the latency-aligned input, the chain's output, the other side (blind test)
_HEAD = 8  # float64: written, start, setting (0 A, 1 B), other (-2 none, -1 the other setting, k slot k bypassed)
_WRITTEN, _START, _SETTING, _OTHER, _RATE, _CAPACITY = range(6)

Key = tuple[int, int]  # (setting: 0 A, 1 B; other side: -2 none, -1 the other A/B setting, k: slot k bypassed)


def check_seconds(seconds: float) -> float:
    """``seconds`` as a float, refused outside what a tap can hold."""
    seconds = float(seconds)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"matching from what plays measures the last {MIN_SECONDS:g} to {MAX_SECONDS:g} s; "
                         f"got {seconds!r}")
    return seconds


def tap_frames(seconds: float, sample_rate: float) -> int:
    """The ring's length for measuring the last ``seconds``: that and a margin."""
    return int(math.ceil((check_seconds(seconds) + MARGIN_SECONDS) * sample_rate))


def tap_bytes(frames: int) -> int:
    """The memory a tap of ``frames`` takes (header and ring), for a shared memory block."""
    return 8 * _HEAD + 4 * SIDES * 2 * frames


class MatchTap:
    """A ring of one strip's sides (stereo; a mono side fills both channels), the last ``frames`` of each.

    Single producer (the thread rendering the strip), any number of readers, no lock:
    a reader copies the frames it wants, then checks that the writer has not come
    round to them meanwhile (:meth:`played`). ``buffer``: memory to hold it (a
    shared memory block's ``buf``, :func:`tap_bytes` long), or None for its own.
    """

    __slots__ = ("head", "ring", "capacity", "always", "now", "_key", "memory")

    def __init__(self, frames: int, sample_rate: float, buffer: Any = None, *, fresh: bool = True):
        if buffer is None:
            buffer = bytearray(tap_bytes(frames))
        self.head = np.ndarray((_HEAD,), np.float64, buffer)
        self.ring = np.ndarray((SIDES, 2, frames), np.float32, buffer, offset=8 * _HEAD)
        self.capacity = frames
        if fresh:
            self.head[:] = (0.0, 0.0, 0.0, -2.0, float(sample_rate), float(frames), 0.0, 0.0)
        # Write while the transport stops too (the strip hears a live input); else a stopped file track's
        # silence would fill the ring and leave nothing to measure.
        self.always = True
        self.now: Any = None  # the engine's per-block clock (callback.Now): is the transport playing?
        self._key: Key | None = None
        self.memory: Any = None  # what holds ``buffer`` (a SharedMemory), kept alive with the tap

    @property
    def sample_rate(self) -> float:
        return float(self.head[_RATE])

    @property
    def written(self) -> int:
        return int(self.head[_WRITTEN])

    @property
    def span_seconds(self) -> float:
        """How long a span :meth:`played` can give now (since what plays last changed, at most the ring's)."""
        head = self.head
        frames = min(int(head[_WRITTEN]) - int(head[_START]), self.capacity - int(MARGIN_SECONDS * self.sample_rate))
        return max(0, frames) / self.sample_rate

    @property
    def setting(self) -> str:
        """The A/B setting the kept span played ("A" or "B")."""
        return "AB"[int(self.head[_SETTING])]

    def write(self, dry: np.ndarray, wet: np.ndarray, other: np.ndarray | None, key: Key) -> None:
        """Audio thread: one block of each side, (channels, n). ``key`` names what plays (see :data:`Key`):
        when it changes, the measured span starts again."""
        now = self.now
        if not self.always and (now is None or not now.playing):
            return
        head, ring, capacity = self.head, self.ring, self.capacity
        written = int(head[_WRITTEN])
        if key != self._key:
            self._key = key
            head[_SETTING], head[_OTHER] = key
            head[_START] = written
        n = dry.shape[1]
        start = written % capacity
        end = start + n
        if end <= capacity:  # a (1, n) side broadcasts to both channels
            ring[0, :, start:end] = dry
            ring[1, :, start:end] = wet
            if other is not None:
                ring[2, :, start:end] = other
        else:
            split = capacity - start
            ring[0, :, start:] = dry[:, :split]
            ring[0, :, : end - capacity] = dry[:, split:]
            ring[1, :, start:] = wet[:, :split]
            ring[1, :, : end - capacity] = wet[:, split:]
            if other is not None:
                ring[2, :, start:] = other[:, :split]
                ring[2, :, : end - capacity] = other[:, split:]
        head[_WRITTEN] = written + n  # published last: a reader never takes a half-written block

    def played(self, seconds: float) -> Played:
        """Reader: a copy of the last ``seconds`` (at most) each side played since what plays last changed.
        Raises :class:`MatchError` when nothing has played yet."""
        want = int(round(float(seconds) * self.sample_rate))
        head = self.head
        for _ in range(4):
            written, start = int(head[_WRITTEN]), int(head[_START])
            setting, other = int(head[_SETTING]), int(head[_OTHER])
            n = max(0, min(want, written - start, self.capacity - int(MARGIN_SECONDS * self.sample_rate)))
            first = (written - n) % self.capacity
            index = (np.arange(n) + first) % self.capacity if first + n > self.capacity else slice(first, first + n)
            sides = self.ring[: 3 if other > -2 else 2, :, index].copy()
            # The writer came round to the oldest frame copied while copying: the copy may be torn, take it again.
            if int(head[_WRITTEN]) - self.capacity <= written - n and int(head[_START]) == start:
                return Played(sides[0], sides[1], sides[2] if other > -2 else None, "AB"[setting],
                              other if other >= 0 else None, self.sample_rate)
        raise MatchError("the matching tap was overwritten while it was read (the machine is too busy); ask again")

    def listen(self) -> None:
        """Start the measured span again at the next block (what plays changed in a way the key does not say)."""
        self._key = None


@dataclass(frozen=True)
class Played:
    """What a strip played over the same frames: its latency-aligned input (``dry``), its chain's output before
    the matching gain (``wet``, with A/B setting ``setting``), and during a blind test the other side (the other
    setting, or with ``compare_slot`` the chain with that slot bypassed); each (2, frames)."""

    dry: np.ndarray
    wet: np.ndarray
    other: np.ndarray | None
    setting: str
    compare_slot: int | None
    sample_rate: float

    @property
    def seconds(self) -> float:
        return self.dry.shape[1] / self.sample_rate


def played_offsets(played: Played, pause: Callable[[], None] | None = None,
                   where: str = "the strip") -> tuple[float, float | None]:
    """The matching offsets (dB) of what played: the chain's, and the other side's (None if it did not run),
    each against the input: BS.1770-4 integrated loudness (K-weighting, 400 ms blocks, absolute and relative
    gates). ``pause()``, if given, runs between slices of :data:`SLICE_SECONDS` (an in-process engine's
    ``after_block``). Raises :class:`MatchError` when a side has no measurable loudness."""
    from rackhost.live.meters import LoudnessMeter

    names = {0: "its input", 1: "its chain's output", 2: "its other side"}
    sides = [played.dry, played.wet] + ([played.other] if played.other is not None else [])
    if played.seconds < 0.4:
        raise MatchError(f"{where} has played {played.seconds:.1f} s since listening started (or since its A/B "
                         f"setting changed); matching needs at least 0.4 s: play it and ask again")
    meters = [LoudnessMeter(played.sample_rate, peaks=False) for _ in sides]
    step = max(1, int(SLICE_SECONDS * played.sample_rate))
    for first in range(0, played.dry.shape[1], step):
        for meter, side in zip(meters, sides):
            meter.feed(side[:, first : first + step])
        if pause is not None:
            pause()
    loudness = [meter.integrated for meter in meters]
    for k, value in enumerate(loudness):
        if not math.isfinite(value):
            raise MatchError(f"{where}: {names[k]} had no measurable loudness over the last {played.seconds:.1f} s "
                             f"(silent); play something through it and ask again")
    chain = float(loudness[0] - loudness[1])
    return chain, (float(loudness[0] - loudness[2]) if len(loudness) > 2 else None)


def matched_from_played(audition: Audition, played: Played, offsets: tuple[float, float | None],
                        has_other_setting: bool = True) -> Audition:
    """``audition`` with the offsets measured from ``played``: the playing setting's, and the other side's where
    it ran (the other A/B setting's, or the bypassed slot's); a setting that did not play keeps its offset, or,
    with no other setting made yet, takes the playing one's (it is a copy)."""
    chain, other = offsets
    playing = played.setting
    current = list(audition.offsets)
    current[playing == "B"] = chain
    if other is not None and played.compare_slot is None:
        current[playing == "A"] = other
    elif not has_other_setting:
        current[playing == "A"] = chain
    new = replace(audition, offsets=(current[0], current[1]))
    if other is not None and played.compare_slot is not None and played.compare_slot == audition.compare_slot:
        new = replace(new, other_offset=other)
    return new
