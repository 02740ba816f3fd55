"""Reading and writing preset files (JSON, versioned), with errors that name the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from rackhost.presets.atomic import write_json_atomic
from rackhost.presets.preset import FORMAT_VERSION, Preset, PresetError, SlotState

# format_version N -> function turning a version-N document into version N+1.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}
KINDS = ("chain", "track", "master")


def read_preset(path: Path) -> Preset:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError(str(path), "", "no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PresetError(str(path), "", f"cannot be read ({err})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise PresetError(str(path), f"line {err.lineno} column {err.colno}", f"not valid JSON ({err.msg})") from None
    return preset_from_dict(doc, str(path))


def write_preset(preset: Preset, path: Path) -> None:
    write_json_atomic(path, preset.to_dict())


def preset_from_dict(doc: Any, source: str) -> Preset:
    r = _Reader(source)
    doc = r.migrate(r.expect(doc, dict, ""))
    stage = r.text(doc, "stage")
    if not stage.replace("-", "").replace("_", "").isalnum():
        raise PresetError(source, "stage", f"{stage!r} is not a valid stage name (letters, digits, - and _)")
    kind = doc.get("kind", "chain")
    if kind not in KINDS:
        raise PresetError(source, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
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
    )


def slot_states_from_list(doc: Any, source: str, where: str) -> list[SlotState]:
    """Slots as presets and sessions store them, checked for shape (plug-ins are not loaded here)."""
    r = _Reader(source)
    slots = []
    for i, slot in enumerate(r.expect(doc, list, where)):
        here = f"{where}[{i}]"
        slot = r.expect(slot, dict, here)
        plugin = r.expect(slot.get("plugin"), dict, f"{here}.plugin")
        r.text(plugin, "name", f"{here}.plugin")
        params = r.expect(slot.get("parameters", {}), dict, f"{here}.parameters")
        for key, value in params.items():
            if not isinstance(value, (int, float, str, bool)):
                raise PresetError(source, f"{here}.parameters.{key}",
                                  f"expected a number, text or true/false, found {json.dumps(value)}")
        raw = slot.get("raw_state")
        if raw is not None:
            r.expect(raw, str, f"{here}.raw_state")
        slots.append(SlotState(plugin, params, raw, r.boolean(slot, "bypass", here), r.number(slot, "mix", here, 1.0)))
    return slots


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def migrate(self, doc: dict) -> dict:
        version = doc.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise PresetError(self.source, "format_version", f"missing or not a whole number (this rackhost writes {FORMAT_VERSION})")
        if version > FORMAT_VERSION:
            raise PresetError(self.source, "format_version", f"version {version} is newer than this rackhost understands ({FORMAT_VERSION}); upgrade rackhost")
        while version < FORMAT_VERSION:
            if version not in MIGRATIONS:
                raise PresetError(self.source, "format_version", f"version {version} is not a known preset format")
            doc = MIGRATIONS[version](doc)
            version = doc["format_version"]
        return doc

    def expect(self, value: Any, kind: type, where: str) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            wanted = {dict: "an object", list: "a list", str: "text"}.get(kind, kind.__name__)
            raise PresetError(self.source, where or "the top level", f"expected {wanted}, found {json.dumps(value)}")
        return value

    def text(self, doc: dict, key: str, where: str = "", default: str | None = None) -> str:
        value = doc.get(key, default)
        return self.expect(value, str, f"{where}.{key}".lstrip("."))

    def number(self, doc: dict, key: str, where: str, default: float) -> float:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PresetError(self.source, f"{where}.{key}".lstrip("."), f"expected a number, found {json.dumps(value)}")
        return float(value)

    def optional_number(self, doc: dict, key: str) -> float | None:
        return None if doc.get(key) is None else self.number(doc, key, "", 0.0)

    def boolean(self, doc: dict, key: str, where: str) -> bool:
        value = doc.get(key, False)
        if not isinstance(value, bool):
            raise PresetError(self.source, f"{where}.{key}", f"expected true or false, found {json.dumps(value)}")
        return value
