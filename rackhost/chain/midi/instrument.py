"""Playing an instrument plug-in from MIDI events, block by block: an instrument track's source.

:class:`InstrumentPlayer` is the one code path for offline render (events
from a :class:`~rackhost.chain.midi.sequence.MidiSequence`) and the live
engine (events from a MIDI input): each call renders whole blocks with
``reset=False``, every message handed to the plug-in at its sample offset in
its block, and a mono instrument's output copied to both channels of the
stereo track.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence

import numpy as np

from rackhost.chain.midi.sequence import MidiSequence
from rackhost.chain.plugin import Plugin

ALL_CHANNELS = tuple(range(1, 17))


def release_messages(channels: Sequence[int] = ALL_CHANNELS) -> list[bytes]:
    """Sustain off then all notes off on each channel (1..16), so no note hangs after a stop."""
    out = []
    for channel in channels:
        status = 0xB0 | (channel - 1)
        out += [bytes((status, 64, 0)), bytes((status, 123, 0))]
    return out


_libc = None


def reseed_c_random(seed: int = 0) -> None:
    """Seed the C library's ``rand()``, which some instruments use for noise (Kars plucks with it).

    Renders of the same notes are then the same samples. The generator is
    shared by the whole process, so instruments are rendered on one thread in
    track order (see :class:`InstrumentSource`).
    """
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"))
    _libc.srand(ctypes.c_uint(seed))


class InstrumentPlayer:
    """Renders an instrument track's audio (2, n) from MIDI events given with sample offsets."""

    __slots__ = ("plugin", "name", "sample_rate", "block", "_process", "_width", "_seconds", "_buffer")

    def __init__(self, plugin: Plugin, sample_rate: float, block_size: int, max_segment: int | None = None):
        plugin.configure(2, sample_rate)
        self.plugin = plugin
        self.name = plugin.name
        self.sample_rate = float(sample_rate)
        self.block = block_size
        self._process = plugin.instance.process
        self._width = plugin.native_channels
        self._seconds = block_size / self.sample_rate
        self._buffer = np.zeros((2, max_segment or block_size), np.float32)

    def render(self, frames: int, events: Sequence[tuple[int, bytes]] = ()) -> np.ndarray:
        """``frames`` (whole blocks) of audio; ``events`` are ``(offset, bytes)`` sorted by offset in [0, frames).

        Returns a view of a buffer that the next call overwrites.
        """
        out = self._buffer[:, :frames]
        block, rate, width = self.block, self.sample_rate, self._width
        k, count = 0, len(events)
        for start in range(0, frames, block):
            messages = []
            end = start + block
            while k < count and events[k][0] < end:
                offset, data = events[k]
                # pedalboard turns seconds back into a sample by truncation: aim at the middle of the frame.
                messages.append((data, (max(offset - start, 0) + 0.5) / rate))
                k += 1
            audio = self._process(messages, self._seconds, rate, width, block, False)
            if width == 1:
                out[0, start:end] = audio[0]
                out[1, start:end] = audio[0]
            else:
                out[:, start:end] = audio
        return out


class InstrumentSource:
    """An instrument track in an offline render: its MIDI sequence played through its player.

    After the sequence's last event, sustain and all notes are turned off on
    the channels it listens to, so nothing hangs into the tail.
    """

    def __init__(self, player: InstrumentPlayer, sequence: MidiSequence | None, channel: int | None):
        self.player = player
        rate = player.sample_rate
        sequence = (sequence or MidiSequence((), ())).for_channel(channel)
        end = sequence.length(rate)
        releases = release_messages(ALL_CHANNELS if channel is None else (channel,))
        self.sequence = MidiSequence(
            list(sequence.times) + [end / rate] * len(releases), list(sequence.data) + releases, sequence.duration,
            sequence.name,
        )
        self.frames = end + 1 if len(sequence) else 0  # the release messages sit on the last frame

    def segment(self, position: int, frames: int) -> np.ndarray:
        return self.player.render(frames, self.sequence.window(self.player.sample_rate, position, position + frames))
