"""The MIDI parts of a session file (format 3): instrument tracks, controller mappings and the program map.

A track with an instrument stores it like a slot (plug-in identity, named
values, ``raw_state``), the MIDI channel it listens to (1..16, or null for
every channel) and the MIDI file it plays in an offline render, relative to
the session file::

    {"name": "bass", "instrument": {"plugin": {"format": "vst3", "name": "Nekobi"},
                                    "parameters": {"cutoff": 40.0}, "raw_state": "..."},
     "midi_channel": 2, "midi_file": "midi/bass.mid", "chain": [...]}

The session's ``"midi"`` object holds the mappings (``target.track`` is a
track index, null for the master; ``range`` null means the target's own) and
the program map::

    "midi": {"mappings": [{"channel": 1, "controller": 7, "curve": "linear",
                           "target": {"track": 0, "kind": "parameter", "slot": 1, "parameter": "threshold_db"},
                           "range": [-40, 0]},
                          {"channel": 1, "controller": 1, "lsb_controller": 33, "curve": "linear",
                           "target": {"track": null, "kind": "gain"}}],
             "programs": [{"channel": 1, "program": 4, "track": null, "preset": "mastering/streaming"}]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rackhost.chain import Slot
from rackhost.chain.midi import MidiMap, read_midi_file
from rackhost.errors import MidiMappingError, RackhostError
from rackhost.presets.document import Keys
from rackhost.presets.paths import opened_path, path_ref, remember
from rackhost.presets.preset import PresetError, capture_slot
from rackhost.presets.preset_file import slot_states_from_list
from rackhost.presets.preset_midi import SESSION_TARGET_KEYS, check_mapping_keys

# An instrument is stored like a slot, without bypass and wet/dry (it is the track's source).
INSTRUMENT_KEYS = Keys(required=("plugin",), optional=("parameters", "raw_state"))
MIDI_KEYS = Keys(optional=("mappings", "programs"))
PROGRAM_KEYS = Keys(required=("channel", "program", "track", "preset"))


def read_instrument_fields(reader: Any, doc: dict, where: str) -> dict:
    """The ``add_track`` options of an instrument track (empty for an audio track)."""
    if doc.get("instrument") is None:
        for key in ("midi_channel", "midi_file"):
            if doc.get(key) is not None:
                raise reader.fail(f"{where}.{key}", "only an instrument track plays MIDI; give the track an "
                                                    "\"instrument\" or remove this")
        return {}
    here = f"{where}.instrument"
    try:
        state = slot_states_from_list([reader.expect(doc["instrument"], dict, here)], str(reader.path), here,
                                      INSTRUMENT_KEYS)[0]
        instrument = reader.restore(state, str(reader.path), here, reader.report).plugin
    except PresetError as err:
        raise reader.fail(err.where.replace(f"{here}[0]", here), err.problem) from None
    channel = doc.get("midi_channel")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16):
        raise reader.fail(f"{where}.midi_channel", f"expected a MIDI channel 1..16, or null for every channel; "
                                                   f"found {channel!r}")
    midi = None
    if doc.get("midi_file") is not None:
        written = reader.expect(doc["midi_file"], str, f"{where}.midi_file")
        try:
            midi = read_midi_file(opened_path(written, reader.base))
        except RackhostError as err:
            raise reader.fail(f"{where}.midi_file", str(err)) from None
        remember(midi, written, reader.base)
    return {"instrument": instrument, "midi_channel": channel, "midi": midi}


def instrument_fields(track: Any, base: Path | None) -> dict:
    """The instrument keys of a track's document (none for an audio track)."""
    if track.instrument is None:
        return {}
    state = capture_slot(Slot(track.instrument)).to_dict()
    del state["bypass"], state["mix"]
    midi_file = None
    if track.midi is not None and track.midi.path is not None:
        midi_file = path_ref(track.midi, track.midi.path, base)
    return {"instrument": state, "midi_channel": track.midi_channel, "midi_file": midi_file}


def read_midi_map(reader: Any, doc: dict) -> MidiMap:
    """The session's mappings and program map (empty when the file has none)."""
    midi = doc.get("midi")
    if midi is None:
        return MidiMap()
    reader.keys(reader.expect(midi, dict, "midi"), MIDI_KEYS, "midi")
    check_mapping_keys(reader, midi.get("mappings"), "midi.mappings", SESSION_TARGET_KEYS)
    programs = midi.get("programs")
    for i, entry in enumerate(programs if isinstance(programs, list) else []):
        if isinstance(entry, dict):
            reader.keys(entry, PROGRAM_KEYS, f"midi.programs[{i}]")
    try:
        return MidiMap.from_dict(midi)
    except MidiMappingError as err:
        where, _, problem = str(err).partition(": ")
        raise reader.fail(f"midi.{where}", problem) from None
