"""Small generated MIDI files for tests (written with mido, so the bytes are known and tiny)."""

from __future__ import annotations

from pathlib import Path

import mido


def write_midi(path: Path, notes: list[tuple[int, int, int]], *, tempo: int = 500000, channel: int = 0,
               ticks_per_beat: int = 480, tempo_changes: list[tuple[int, int]] = (), hold_last: bool = False) -> Path:
    """``notes``: (start tick, length in ticks, note). ``tempo_changes``: (tick, microseconds per beat)."""
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [(0, 0, mido.MetaMessage("set_tempo", tempo=tempo))]
    for tick, value in tempo_changes:
        events.append((tick, 0, mido.MetaMessage("set_tempo", tempo=value)))
    for k, (start, length, note) in enumerate(notes):
        events.append((start, 2, mido.Message("note_on", note=note, velocity=100, channel=channel)))
        if not (hold_last and k == len(notes) - 1):
            events.append((start + length, 1, mido.Message("note_off", note=note, velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(str(path))
    return path
