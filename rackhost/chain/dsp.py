"""Small real-time building blocks: gain laws, a delay line, and stream state carried across rebuilds.

Everything here is safe to call from an audio callback: buffers are allocated
when the object is made, never while processing.
"""

from __future__ import annotations

import math
from typing import Any, Callable, TypeVar

import numpy as np

T = TypeVar("T")
_CARRIED = "_rackhost_carried"
_CARRIED_KEPT = 16  # states kept per plug-in: a few snapshots' worth (older keys are routings long gone)


def carried(owner: Any, key: tuple, make: Callable[[], T]) -> T:
    """The stream state ``key`` that goes with ``owner`` (a plug-in instance), made by ``make`` the first time.

    A live engine rebuilds its snapshot on every structural edit while its plug-ins keep running. What
    stands beside a running plug-in (its latency FIFO, the delay lines that align the paths around it) must
    continue too, or the rebuild leaves a gap of silence and the plug-in's path slips by its latency. So the
    new snapshot takes the same state object where the routing is the same (the same ``key``); the plug-in's
    ``reset()`` (a render's start, a restart) forgets it with :func:`forget_carried`. Made on the control
    thread; the audio thread only runs the state it is handed.
    """
    store: dict = owner.__dict__.setdefault(_CARRIED, {})
    state = store.get(key)
    if state is None:
        state = store[key] = make()
        while len(store) > _CARRIED_KEPT:
            del store[next(iter(store))]
    return state


def forget_carried(owner: Any) -> None:
    """``owner`` restarts from silence: the states beside it start afresh too."""
    owner.__dict__.pop(_CARRIED, None)


def db_to_gain(db: float) -> float:
    return 0.0 if db <= -150.0 else 10.0 ** (db / 20.0)


def gain_to_db(gain: float) -> float:
    return -math.inf if gain <= 0.0 else 20.0 * math.log10(gain)


def pan_gains(pan: float, channels: int) -> tuple[float, float]:
    """Left and right gains for ``pan`` in [-1, 1], constant power.

    A mono source is panned with the sin/cos law (-3 dB each side at centre), so
    its loudness does not change as it moves. A stereo source is balanced: the
    centre leaves both channels at unity, and moving toward one side lowers the
    other along the same constant-power curve (scaled so centre is 0 dB).
    """
    pan = min(1.0, max(-1.0, pan))
    angle = (pan + 1.0) * math.pi / 4.0
    left, right = math.cos(angle), math.sin(angle)
    if channels == 2:
        left, right = min(1.0, left * math.sqrt(2.0)), min(1.0, right * math.sqrt(2.0))
    return left, right


class DelayLine:
    """A fixed delay of ``delay`` samples for blocks of up to ``max_block`` samples."""

    __slots__ = ("delay", "_buffer")

    def __init__(self, channels: int, delay: int, max_block: int):
        self.delay = delay
        self._buffer = np.zeros((channels, delay + max_block), np.float32)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        d = self.delay
        buf = self._buffer
        buf[:, d : d + n] = block
        out = buf[:, :n].copy()
        buf[:, :d] = buf[:, n : n + d]
        return out

    def reset(self) -> None:
        self._buffer[:] = 0.0


class DelayCarry:
    """The delay lines that align paths at the mix's summing points, handed from one snapshot to the next.

    A live engine keeps one and rebuilds its snapshot around it: a line whose path (``key``: the strips it
    joins, by name), width and delay are the same as in the last build is the same line, so the earlier
    paths play on across the rebuild instead of starting from silence. Only the last build's lines are
    handed on (a routing that came and went starts afresh). Control thread only.
    """

    def __init__(self) -> None:
        self._last: dict[tuple, DelayLine] = {}
        self._made: dict[tuple, DelayLine] = {}

    def begin(self) -> None:
        """A new build starts: what the last one made is what this one may take over."""
        self._last, self._made = self._made, {}

    def line(self, key: tuple, channels: int, delay: int, max_block: int) -> DelayLine:
        full = (key, channels, delay, max_block)
        line = self._last.pop(full, None) or DelayLine(channels, delay, max_block)
        self._made[full] = line
        return line


def delay_line(carry: DelayCarry | None, key: tuple, channels: int, delay: int, max_block: int) -> DelayLine | None:
    """A delay line for ``delay`` samples (None for none), carried over by ``carry`` where it is given."""
    if not delay:
        return None
    return carry.line(key, channels, delay, max_block) if carry is not None else DelayLine(channels, delay, max_block)


def pad_front(block: np.ndarray, frames: int) -> np.ndarray:
    """``block`` preceded by silence up to ``frames`` samples.

    Processors that buffer internally (lookahead limiters, resamplers) hand back
    fewer samples than given until their buffer fills; padding the shortfall in
    front turns that into a constant latency, as a host's FIFO would.
    """
    missing = frames - block.shape[1]
    if missing <= 0:
        return block
    return np.concatenate((np.zeros((block.shape[0], missing), np.float32), block), axis=1)
