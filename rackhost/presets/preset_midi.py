"""MIDI mappings kept in a track or master preset, so a controller layout travels with a chain.

In the preset file a mapping's target names no track: it is "the preset's
owner" (the track or the master it is loaded onto), and its slot is an index in
the preset's own slots::

    "midi_mappings": [{"channel": 1, "controller": 7, "curve": "linear", "range": [-40, 0],
                       "target": {"track": null, "kind": "parameter", "slot": 0, "parameter": "threshold_db"}}]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rackhost.chain import Session
from rackhost.chain.midi import CCMapping
from rackhost.errors import MidiMappingError
from rackhost.presets.document import DocumentReader, Keys

# The keys of a mapping and of its target (in a preset and in a session's "midi" object alike).
MAPPING_KEYS = Keys(required=("channel", "controller", "target"), optional=("curve", "range", "lsb_controller"))
# In a session a target names its track (null: the master); in a preset the track is the preset's owner.
SESSION_TARGET_KEYS = Keys(required=("track", "kind"), optional=("slot", "parameter", "bus", "path", "send"))
PRESET_TARGET_KEYS = Keys(required=("kind",), optional=("track", "slot", "parameter"))


def capture_mappings(session: Session, owner: Any) -> list[dict]:
    """The session's mappings to ``owner`` (a track or the master), with the track left out."""
    index = None if owner is session.master else session.tracks.index(owner)
    out = []
    for mapping in session.midi.mappings:
        if mapping.target.track == index and mapping.target.bus is None:
            doc = mapping.to_dict()
            doc["target"] = dict(doc["target"], track=None)
            out.append(doc)
    return out


def check_mapping_keys(reader: DocumentReader, docs: Any, where: str, target_keys: Keys = PRESET_TARGET_KEYS) -> None:
    """Refuse a mapping or target with a key rackhost does not know or without one it needs."""
    for i, doc in enumerate(docs if isinstance(docs, list) else []):
        if isinstance(doc, dict):
            reader.keys(doc, MAPPING_KEYS, f"{where}[{i}]")
            target = doc.get("target")
            if isinstance(target, dict):
                keys = target_keys.requiring("slot", "parameter") if target.get("kind") == "parameter" else target_keys
                reader.keys(target, keys, f"{where}[{i}].target")


def check_mappings(docs: Any) -> list[dict]:
    """Refuse a preset's mappings that could never be installed (raises MidiMappingError naming the entry)."""
    if not isinstance(docs, list):
        raise MidiMappingError("expected a list")
    for i, doc in enumerate(docs):
        try:
            _made(doc, 0, 0)
        except (MidiMappingError, AttributeError, TypeError) as err:
            raise MidiMappingError(f"[{i}]: {err}") from None
    return docs


def install_mappings(docs: list[dict], session: Session, owner: Any, slot_offset: int = 0) -> list[CCMapping]:
    """Add a preset's mappings for ``owner``; slots are shifted by ``slot_offset`` (slots appended after others)."""
    index = None if owner is session.master else session.tracks.index(owner)
    return [session.midi.add(_made(doc, index, slot_offset)) for doc in docs]


def _made(doc: dict, track: int | None, slot_offset: int) -> CCMapping:
    mapping = CCMapping.from_dict(dict(doc, target=dict(doc.get("target") or {}, track=track)))
    if slot_offset and mapping.target.slot is not None:
        mapping = replace(mapping, target=replace(mapping.target, slot=mapping.target.slot + slot_offset))
    return mapping
