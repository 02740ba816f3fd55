"""The block engine: tracks through their chains, panned, summed, through the master chain.

This is the one code path for offline render and live processing. A
:class:`MixSnapshot` is immutable: the live engine swaps a new one in by one
assignment, the offline renderer drives one from files. Work is done in
*segments* of whole blocks: every plug-in processes exactly ``block_size``
frames at a time whatever the segment length (pedalboard's ``buffer_size``),
and the per-sample arithmetic after the chains (gain, pan, sum) gives the same
result for one long segment as for many short ones, so a render and a live run
(where a segment is one block) produce the same samples.

The tracks' stereo outputs are rows of one array, (tracks, 2, frames): faders
and pans are applied to all of them in one multiply and they are summed in one
reduction (numpy adds the rows in track order, so the sum has the same bits as
adding them one by one). That keeps the host's own work per track per block to
the chain call and one copy, however many tracks there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from rackhost.chain.chain import ChainProcessor
from rackhost.chain.dsp import DelayLine, db_to_gain, pan_gains

if TYPE_CHECKING:
    from rackhost.chain.master import MasterBus
    from rackhost.chain.track import Track


def strip_gains(gain_db: float, pan: float, channels: int) -> tuple[float, float]:
    """A track's fader and pan as the left and right gains the mix multiplies its output by.

    ``channels`` is the width of the track's output (after its chain): a mono
    output is panned (constant power), a stereo one, also a mono track widened
    by a stereo plug-in, is balanced.
    """
    left, right = pan_gains(pan, channels)
    gain = db_to_gain(gain_db)
    return left * gain, right * gain


def bounce_gains(gain_db: float, pan: float, channels: int) -> tuple[float, float]:
    """A bounced track's left and right gains: the fader alone on a mono output (no pan law: there is no
    stereo master to pan it on, the file stays mono), fader and balance on a stereo one (0 dB at centre)."""
    if channels == 1:
        gain = db_to_gain(gain_db)
        return gain, gain
    return strip_gains(gain_db, pan, channels)


def bounced(snap: MixSnapshot, track: Track, master: MasterBus) -> MixSnapshot:
    """``snap``, the snapshot of a session holding only ``track``, as a bounce of that track to a file.

    An engineer bouncing one file through a chain expects the file back as the
    chain makes it, not as a mono track sounds on a stereo master (3 dB down,
    the pan law at centre). So the track's chain and the master's run as one
    serial path: the file stays mono until a stereo-only plug-in in either
    widens it (unless the track keeps mono), the fader and the master gain
    apply, and the pan only once the track is stereo, as a balance (0 dB at
    centre). A mono file through mono-capable plug-ins comes out as pedalboard
    makes it, sample for sample.
    """
    (strip,) = snap.tracks
    notes = list(snap.notes)
    chain = snap.master.chain
    if strip.width == 1:  # the stereo master of the snapshot would widen it: run the master chain in mono
        sr, keep_mono = snap.sample_rate, track.keep_mono
        notes = [n for n in notes if not n.startswith("master: ")]  # those were for a stereo master
        notes += [f"master: {n}" for n in master.chain.configure(1, sr, keep_mono)]
        chain = master.chain.processor(1, sr, snap.block_size, snap.max_segment, keep_mono)
        if track.pan != 0.0:
            notes.append(f"track {track.name!r}: pan {track.pan:+g} has no effect on a bounced mono file (there "
                         f"is no stereo master to pan it on); it works as a balance once a stereo-only plug-in "
                         f"in the track's chain widens the file")
    gain_db = track.gain_db if snap.audible[0] else -math.inf
    gains = np.array(bounce_gains(gain_db, track.pan, strip.width), np.float32).reshape(1, 2, 1)
    return replace(
        snap, master=MasterStrip(chain, master.gain_db, strip.width), gains=gains, notes=tuple(notes),
        latency=snap.latency - snap.master.chain.latency + chain.latency,
    )


class TrackStrip:
    """A track as the audio path runs it: its chain and delay compensation (fader and pan are the snapshot's).

    ``channels`` is the width of its input, ``width`` that of its chain's output
    (2 where a stereo-only plug-in widened a mono track).
    """

    __slots__ = ("name", "index", "channels", "width", "chain", "compensation", "processed", "_delay")

    def __init__(
        self, name: str, index: int, channels: int, chain: ChainProcessor, compensation: int, max_segment: int
    ):
        self.name = name
        self.index = index
        self.channels = channels
        self.width = chain.channels or channels
        self.chain = chain
        self.compensation = compensation
        # After the chain, so as wide as its output.
        self._delay = DelayLine(self.width, compensation, max_segment) if compensation else None
        self.processed: np.ndarray | None = None

    def render(self, source: np.ndarray, out: np.ndarray) -> None:
        """Process ``source`` (channels, n), n a multiple of the block size, into ``out`` (2, n), before the fader.

        The chain gets the whole segment in one call; pedalboard runs its
        plug-ins on it ``block_size`` frames at a time with state kept, exactly
        as if each block were handed over separately (a test proves it). A mono
        output goes to both rows of ``out``; :meth:`MixSnapshot.mix_tracks`
        applies fader and pan to every track at once.
        """
        processed = self.chain(source) if self.chain.stages else source
        self.processed = processed  # the chain's output, before delay compensation and fader (recorded as "wet")
        if self._delay is not None:
            processed = self._delay(processed)
        out[...] = processed


class MasterStrip:
    """The master chain and gain, applied to the sum of the tracks.

    ``channels`` is the width the master runs at: 2 in a mix, or a bounced
    mono file's 1 (it then reads the first row of the sum and writes the first
    row of ``out``). :attr:`width` is that of its output.
    """

    __slots__ = ("chain", "channels", "width", "_gain")

    def __init__(self, chain: ChainProcessor, gain_db: float, channels: int = 2):
        self.chain = chain
        self.channels = channels
        self.width = chain.channels or channels
        self._gain = np.float32(db_to_gain(gain_db))

    def render(self, mix: np.ndarray, out: np.ndarray) -> None:
        if self.channels < mix.shape[0]:
            mix = mix[: self.channels]
        processed = self.chain(mix) if self.chain.stages else mix
        if self.width < out.shape[0]:
            out = out[: self.width]
        if self._gain != 1.0:
            np.multiply(processed, self._gain, out=out)
        else:
            out[:] = processed


@dataclass(frozen=True)
class MixSnapshot:
    """Everything the audio path needs for one session state. Never mutated; replaced whole.

    Every track of the session has a strip, muted or not: a mute or a solo is a
    gain of zero, so the chains keep running (a take goes on recording, a
    reverb's state stays current) and the delay compensation, which follows
    the slowest track, does not move when a track is muted.
    """

    tracks: tuple[TrackStrip, ...]
    master: MasterStrip
    sample_rate: float
    block_size: int
    max_segment: int
    latency: int
    gains: np.ndarray = field(repr=False)  # (tracks, 2, 1): each track's left and right gain (fader, pan, mute)
    audible: tuple[bool, ...] = ()  # per track: it reaches the master (not muted, not silenced by a solo)
    notes: tuple[str, ...] = ()
    unity: bool = field(init=False, repr=False)  # every gain is 1.0: the multiply is skipped

    def __post_init__(self) -> None:
        object.__setattr__(self, "unity", bool(np.all(self.gains == 1.0)))

    def remixed(self, gains: np.ndarray, audible: tuple[bool, ...], master_gain_db: float) -> MixSnapshot:
        """The same strips and chains with new faders, pans, mutes and solos, and master gain (made in microseconds)."""
        if gains.shape != self.gains.shape:
            raise ValueError(f"gains for {gains.shape[0]} tracks, but the snapshot has {len(self.tracks)}")
        master = MasterStrip(self.master.chain, master_gain_db, self.master.channels)
        return replace(self, gains=gains, audible=audible, master=master)

    def mix_tracks(self, strips: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Apply fader and pan to the tracks' outputs ``strips`` (tracks, 2, n) in place, and sum them into ``out``.

        The rows are added in track order (so always the same bits, whatever
        the segment length or the threads that rendered them). Returns ``out``.
        """
        if not self.tracks:
            out[...] = 0.0
            return out
        if not self.unity:
            np.multiply(strips, self.gains, out=strips)
        np.sum(strips, axis=0, out=out)
        return out
