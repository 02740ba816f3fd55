"""The block engine: tracks through their chains, panned, summed, through the master chain.

This is the one code path for offline render and live processing. A
:class:`MixSnapshot` is immutable: the live engine swaps a new one in by one
assignment, the offline renderer drives one from files. Work is done in
*segments* of whole blocks: every plug-in processes exactly ``block_size``
frames at a time whatever the segment length (pedalboard's ``buffer_size``),
and the per-sample arithmetic after the chains (gain, pan, sum) gives the same
result for one long segment as for many short ones, so a render and a live run
(where a segment is one block) produce the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rackhost.chain.chain import ChainProcessor
from rackhost.chain.dsp import DelayLine, db_to_gain, pan_gains


class TrackStrip:
    """A track as the audio path runs it: chain, delay compensation, gain and pan to stereo."""

    __slots__ = (
        "name", "index", "channels", "chain", "compensation", "processed", "_gains", "_delay", "_passes_through",
    )

    def __init__(
        self,
        name: str,
        index: int,
        channels: int,
        chain: ChainProcessor,
        gain_db: float,
        pan: float,
        compensation: int,
        max_segment: int,
    ):
        self.name = name
        self.index = index
        self.channels = channels
        self.chain = chain
        self.compensation = compensation
        left, right = pan_gains(pan, channels)
        gain = db_to_gain(gain_db)
        self._gains = np.array([[left * gain], [right * gain]], np.float32)
        self._delay = DelayLine(channels, compensation, max_segment) if compensation else None
        self.processed: np.ndarray | None = None
        self._passes_through = channels == 2 and not compensation and bool(np.all(self._gains == 1.0))

    def render(self, source: np.ndarray, out: np.ndarray) -> None:
        """Process ``source`` (channels, n), n a multiple of the block size, into stereo ``out`` (2, n).

        The chain gets the whole segment in one call; pedalboard runs its
        plug-ins on it ``block_size`` frames at a time with state kept, exactly
        as if each block were handed over separately (a test proves it).
        """
        processed = self.chain(source) if self.chain.stages else source
        self.processed = processed  # the chain's output, before delay compensation and fader (recorded as "wet")
        if self._delay is not None:
            processed = self._delay(processed)
        if self._passes_through:  # a stereo track at unity gain and centre: no mixing pass
            out[:] = processed
        else:
            np.multiply(processed, self._gains, out=out)


class MasterStrip:
    """The master chain and gain, applied to the sum of the tracks."""

    __slots__ = ("chain", "_gain")

    def __init__(self, chain: ChainProcessor, gain_db: float):
        self.chain = chain
        self._gain = np.float32(db_to_gain(gain_db))

    def render(self, mix: np.ndarray, out: np.ndarray) -> None:
        processed = self.chain(mix) if self.chain.stages else mix
        if self._gain != 1.0:
            np.multiply(processed, self._gain, out=out)
        else:
            out[:] = processed


@dataclass(frozen=True)
class MixSnapshot:
    """Everything the audio path needs for one session state. Never mutated; replaced whole."""

    tracks: tuple[TrackStrip, ...]
    master: MasterStrip
    sample_rate: float
    block_size: int
    max_segment: int
    latency: int
    notes: tuple[str, ...] = ()

    def sum_tracks(self, track_outputs: Sequence[np.ndarray], out: np.ndarray) -> np.ndarray:
        """The sum of the tracks' stereo outputs, always added in track order (so always the same bits).

        Returns ``out`` holding the sum, or the only track's own buffer when there is one track.
        """
        if not track_outputs:
            out[:] = 0.0
            return out
        if len(track_outputs) == 1:
            return track_outputs[0]
        np.add(track_outputs[0], track_outputs[1], out=out)
        for buf in track_outputs[2:]:
            out += buf
        return out
