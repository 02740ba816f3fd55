"""MIDI files as timed events: read with mido, tempo map honoured, placed on sample frames.

A :class:`MidiSequence` holds channel messages (notes, controllers, program
changes, pitch bend, aftertouch) with their time in seconds from the start of
the file. :meth:`MidiSequence.frames` places them on sample frames at a rate,
and :meth:`MidiSequence.window` hands out the events of one stretch of frames
with offsets relative to its start: what an instrument gets each block.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rackhost.errors import MidiFileError

# Channel messages an instrument takes; meta messages (tempo, names) and sysex are not played.
PLAYED = frozenset({"note_on", "note_off", "control_change", "program_change", "pitchwheel", "aftertouch", "polytouch"})
DEFAULT_TEMPO = 500000  # microseconds per beat: 120 BPM, the MIDI file default


class MidiSequence:
    """Timed MIDI messages: ``times`` in seconds (sorted), ``data`` the raw bytes, ``channels`` 1..16."""

    def __init__(self, times: Iterable[float], data: Iterable[bytes], duration: float | None = None, name: str = ""):
        self.times = np.asarray(list(times), np.float64)
        self.data = tuple(bytes(d) for d in data)
        if self.times.size != len(self.data):
            raise ValueError(f"{self.times.size} times for {len(self.data)} messages")
        if self.times.size and np.any(np.diff(self.times) < 0):
            order = np.argsort(self.times, kind="stable")
            self.times = self.times[order]
            self.data = tuple(self.data[i] for i in order)
        self.channels = np.array([(d[0] & 0x0F) + 1 for d in self.data], np.int8)
        last = float(self.times[-1]) if self.times.size else 0.0
        self.duration = max(last, float(duration or 0.0))
        self.name = name
        self.path: Path | None = None  # the file it was read from, if any
        self._frames: dict[float, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"MidiSequence({self.name!r}, {len(self)} events, {self.duration:.2f} s)"

    @classmethod
    def from_messages(cls, messages: Iterable[tuple[float, object]], name: str = "messages") -> MidiSequence:
        """From ``(seconds, message)`` pairs; a message is a mido Message or raw bytes."""
        times, data = [], []
        for seconds, message in messages:
            times.append(float(seconds))
            data.append(bytes(message.bytes()) if hasattr(message, "bytes") else bytes(message))
        return cls(times, data, name=name)

    def for_channel(self, channel: int | None) -> MidiSequence:
        """Only the messages on ``channel`` (1..16); ``None`` keeps them all (omni)."""
        if channel is None:
            return self
        keep = np.flatnonzero(self.channels == channel)
        return MidiSequence(self.times[keep], (self.data[i] for i in keep), self.duration, self.name)

    def frames(self, sample_rate: float) -> np.ndarray:
        """Each message's sample frame at ``sample_rate`` (rounded to the nearest frame)."""
        if sample_rate not in self._frames:
            self._frames[sample_rate] = np.rint(self.times * sample_rate).astype(np.int64)
        return self._frames[sample_rate]

    def length(self, sample_rate: float) -> int:
        """Frames up to the end of the file (its last event or end-of-track, whichever is later)."""
        return int(round(self.duration * sample_rate))

    def window(self, sample_rate: float, start: int, stop: int) -> list[tuple[int, bytes]]:
        """The events in frames ``[start, stop)`` as ``(offset from start, bytes)``, in order."""
        frames = self.frames(sample_rate)
        lo, hi = np.searchsorted(frames, (start, stop))
        return [(int(frames[i]) - start, self.data[i]) for i in range(lo, hi)]


def read_midi_file(path: str | Path) -> MidiSequence:
    """Read a standard MIDI file (type 0, 1 or 2), honouring its tempo map.

    Anything wrong with the file raises :class:`MidiFileError` naming the file
    and the problem (mido raises a variety of exceptions for bad files).
    """
    import mido

    path = Path(path)
    if not path.exists():
        raise MidiFileError(str(path), "no such file; check the path")
    if path.is_dir():
        raise MidiFileError(str(path), "it is a folder, not a MIDI file")
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error) as err:
        reason = str(err).strip() or type(err).__name__
        raise MidiFileError(
            str(path), f"not a valid standard MIDI file ({reason}); export it again as a .mid (SMF type 0 or 1)"
        ) from err
    if midi.ticks_per_beat <= 0:
        raise MidiFileError(str(path), f"invalid timing division ({midi.ticks_per_beat} ticks per beat)")
    if midi.type == 2:
        # Type 2: independent patterns, played one after another, each with its own tempo.
        times, data, offset = [], [], 0.0
        for track in midi.tracks:
            t, d, end = _timed(track, midi.ticks_per_beat)
            times += [offset + x for x in t]
            data += d
            offset += end
        sequence = MidiSequence(times, data, offset, path.name)
    else:
        times, data, end = _timed(mido.merge_tracks(midi.tracks), midi.ticks_per_beat)
        sequence = MidiSequence(times, data, end, path.name)
    sequence.path = path
    return sequence


def _timed(messages: Iterable, ticks_per_beat: int) -> tuple[list[float], list[bytes], float]:
    """Walk delta-timed messages with the tempo map: (times in seconds, bytes, end in seconds)."""
    tempo = DEFAULT_TEMPO
    seconds = 0.0
    times: list[float] = []
    data: list[bytes] = []
    for message in messages:
        seconds += message.time * tempo / (ticks_per_beat * 1_000_000)
        if message.type == "set_tempo":
            tempo = message.tempo
        elif message.type in PLAYED:
            times.append(seconds)
            data.append(bytes(message.bytes()))
    return times, data, seconds
