"""Reading and writing preset files (JSON, versioned), with errors that name the place."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rackhost.atomic import write_json
from rackhost.presets.document import DocumentReader, Keys
from rackhost.presets.preset import FORMAT_VERSION, BranchState, ItemState, Preset, PresetError, SlotState, SplitState
from rackhost.versions import Migration


def _v1_to_v2(doc: dict) -> dict:
    """Version 2 only added split slots: a version 1 preset's slots are all plug-ins, as they were."""
    return dict(doc, format_version=2)


# format_version N -> function turning a version-N document into version N+1.
MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2}
KINDS = ("chain", "track", "bus", "master")

# The keys each object of a preset may have (a session's slots are the same).
PRESET_KEYS = Keys(
    required=("format_version", "name", "stage", "slots"),
    optional=("kind", "description", "tags", "author", "created", "modified", "rackhost_version",
              "gain_db", "pan", "loudness_target_lufs", "true_peak_ceiling_dbtp", "midi_mappings"),
)
SLOT_KEYS = Keys(required=("plugin",), optional=("parameters", "raw_state", "bypass", "mix"))
PLUGIN_KEYS = Keys(required=("name",), optional=("format", "vendor", "uid", "version", "path"))
# A split slot: told from a plug-in slot by its "branches".
SPLIT_KEYS = Keys(required=("branches",), optional=("name", "bypass"))
BRANCH_KEYS = Keys(required=("chain",), optional=("level_db",))


def read_preset(path: Path) -> Preset:
    return preset_from_dict(_Reader(str(path)).load_json(path), str(path))


def write_preset(preset: Preset, path: Path) -> None:
    write_json(path, preset.to_dict())


def preset_from_dict(doc: Any, source: str) -> Preset:
    r = _Reader(source)
    doc = r.versioned(doc, PRESET_KEYS)
    stage = r.text(doc, "stage")
    if not stage.replace("-", "").replace("_", "").isalnum():
        raise r.fail("stage", f"{stage!r} is not a valid stage name (letters, digits, - and _)")
    kind = doc.get("kind", "chain")
    if kind not in KINDS:
        raise r.fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    slots = slot_states_from_list(doc.get("slots", []), source, "slots")
    return Preset(
        name=r.text(doc, "name"),
        stage=stage,
        kind=kind,
        slots=slots,
        gain_db=r.optional_number(doc, "gain_db"),
        pan=r.optional_number(doc, "pan"),
        description=r.text(doc, "description", default=""),
        tags=[r.expect(t, str, f"tags[{i}]") for i, t in enumerate(r.expect(doc.get("tags", []), list, "tags"))],
        author=r.text(doc, "author", default=""),
        created=r.text(doc, "created", default=""),
        modified=r.text(doc, "modified", default=""),
        rackhost_version=r.text(doc, "rackhost_version", default=""),
        loudness_target_lufs=r.optional_number(doc, "loudness_target_lufs"),
        true_peak_ceiling_dbtp=r.optional_number(doc, "true_peak_ceiling_dbtp"),
        midi_mappings=_midi_mappings(r, doc),
    )


def _midi_mappings(r: Any, doc: dict) -> list[dict]:
    from rackhost.errors import MidiMappingError
    from rackhost.presets.preset_midi import check_mapping_keys, check_mappings

    docs = doc.get("midi_mappings", [])
    check_mapping_keys(r, docs, "midi_mappings")
    try:
        return check_mappings(docs)
    except MidiMappingError as err:
        index, _, problem = str(err).partition(": ")
        if not index.startswith("["):
            index, problem = "", str(err)
        raise r.fail(f"midi_mappings{index}", problem) from None


def slot_states_from_list(doc: Any, source: str, where: str, keys: Keys = SLOT_KEYS) -> list[ItemState]:
    """Slots as presets and sessions store them, checked for shape (plug-ins are not loaded here).

    A chain's list (``keys`` is :data:`SLOT_KEYS`) may hold split slots, whose branches are read the same way.
    """
    r = _Reader(source)
    slots: list[ItemState] = []
    for i, slot in enumerate(r.expect(doc, list, where)):
        here = f"{where}[{i}]"
        if keys is SLOT_KEYS and isinstance(slot, dict) and _is_split(slot):
            slots.append(_split_state(r, slot, source, here))
            continue
        slot = r.keys(r.expect(slot, dict, here), keys, here)
        plugin = r.keys(r.expect(slot.get("plugin"), dict, f"{here}.plugin"), PLUGIN_KEYS, f"{here}.plugin")
        r.text(plugin, "name", f"{here}.plugin")
        params = r.expect(slot.get("parameters", {}), dict, f"{here}.parameters")
        for key, value in params.items():
            if not isinstance(value, (int, float, str, bool)):
                raise r.fail(f"{here}.parameters.{key}", f"expected a number, text or true/false, found {json.dumps(value)}")
        raw = slot.get("raw_state")
        if raw is not None:
            r.expect(raw, str, f"{here}.raw_state")
        slots.append(SlotState(plugin, params, raw, r.boolean(slot, "bypass", here), r.number(slot, "mix", here, 1.0)))
    return slots


def _is_split(doc: dict) -> bool:
    """A split slot has branches; one whose "branches" key was lost still has a split's name and no plug-in,
    and is refused for that missing key rather than for its name."""
    return "branches" in doc or ("plugin" not in doc and "name" in doc)


def _split_state(r: DocumentReader, doc: dict, source: str, here: str) -> SplitState:
    doc = r.keys(doc, SPLIT_KEYS, here)
    branches = []
    for k, branch in enumerate(r.expect(doc["branches"], list, f"{here}.branches")):
        at = f"{here}.branches[{k}]"
        branch = r.keys(r.expect(branch, dict, at), BRANCH_KEYS, at)
        level = -math.inf if branch.get("level_db", 0.0) is None else r.number(branch, "level_db", at, 0.0)
        branches.append(BranchState(slot_states_from_list(branch["chain"], source, f"{at}.chain"), level))
    name = r.text(doc, "name", here, default="split")
    return SplitState(branches, name, r.boolean(doc, "bypass", here))


class _Reader(DocumentReader):
    kind = "preset"
    current_version = FORMAT_VERSION
    migrations = MIGRATIONS
    foreign = (("tracks", "this is a session file, not a preset; make a preset from one of its tracks with "
                          "'rackhost presets save NAME --stage STAGE --session FILE --track TRACK'"),)

    def fail(self, where: str, problem: str) -> PresetError:
        return PresetError(self.source, where, problem)
