"""Where presets live: factory presets in the repo (read-only), user presets in the user data folder.

Both use the same layout, ``<stage>/<file>.json``. A preset is named by
``stage/name`` (or just ``name`` when that is unambiguous). Names are unique
per stage across both places, so a user preset never shadows or overwrites a
factory one.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from rackhost.presets.preset import STAGES, Preset, PresetError, now
from rackhost.presets.preset_file import read_preset, write_preset

FACTORY_DIR = Path(__file__).resolve().parents[2] / "presets"
DATA_DIR_VARIABLE = "RACKHOST_DATA_DIR"


def user_presets_dir() -> Path:
    base = os.environ.get(DATA_DIR_VARIABLE) or platformdirs.user_data_dir("rackhost")
    return Path(base) / "presets"


class PresetNotFoundError(PresetError):
    """No preset has the name asked for: the message offers the closest names a user may have meant."""

    def __init__(self, ref: str, close: list[str], known: list[str]):
        self.ref = ref
        self.close = close
        if close:
            hint = f"did you mean {' or '.join(close)}? ('rackhost presets list' shows them all)"
        else:
            hint = f"'rackhost presets list' shows them all: {', '.join(known) or '(none)'}"
        super().__init__(ref, "", f"no such preset; {hint}")


class PresetExistsError(PresetError):
    """A user preset of that stage and name is already saved; nothing was written."""

    def __init__(self, ref: str, path: Path, fix: str = "add --overwrite to replace it, or choose another name"):
        self.ref = ref
        self.path = path
        super().__init__(ref, "", f"exists already, saved as {str(path)!r}; {fix}")


@dataclass(frozen=True)
class PresetEntry:
    name: str
    stage: str
    path: Path
    factory: bool
    description: str
    tags: tuple[str, ...]
    kind: str

    @property
    def ref(self) -> str:
        return f"{self.stage}/{self.name}"

    def to_dict(self) -> dict:
        return {
            "ref": self.ref, "name": self.name, "stage": self.stage, "kind": self.kind,
            "factory": self.factory, "description": self.description, "tags": list(self.tags),
            "path": str(self.path),
        }


class PresetStore:
    def __init__(self, factory_dir: Path | None = None, user_dir: Path | None = None):
        self.factory_dir = factory_dir if factory_dir is not None else FACTORY_DIR
        self.user_dir = user_dir if user_dir is not None else user_presets_dir()

    # -- finding ------------------------------------------------------------------

    def entries(self) -> list[PresetEntry]:
        """Every preset in both places; a file that cannot be read is skipped (see :meth:`problems`)."""
        return [e for e in self._scan() if isinstance(e, PresetEntry)]

    def problems(self) -> list[str]:
        """Files in the preset folders that are not valid presets, with the reason."""
        return [e for e in self._scan() if isinstance(e, str)]

    def _scan(self) -> list[PresetEntry | str]:
        found: list[PresetEntry | str] = []
        for root, factory in ((self.factory_dir, True), (self.user_dir, False)):
            if not root.is_dir():
                continue
            for path in sorted(root.glob("*/*.json")):
                try:
                    preset = read_preset(path)
                except PresetError as err:
                    found.append(str(err))
                    continue
                found.append(PresetEntry(preset.name, preset.stage, path, factory, preset.description,
                                         tuple(preset.tags), preset.kind))
        return found

    def list(self, stage: str | None = None, tag: str | None = None, text: str | None = None) -> list[PresetEntry]:
        """Presets filtered by stage, tag and a search text (in name or description), sorted by stage and name."""
        out = []
        for entry in self.entries():
            if stage and entry.stage != stage:
                continue
            if tag and tag.lower() not in (t.lower() for t in entry.tags):
                continue
            if text and text.lower() not in f"{entry.name} {entry.description}".lower():
                continue
            out.append(entry)
        order = {s: i for i, s in enumerate(STAGES)}
        return sorted(out, key=lambda e: (order.get(e.stage, len(order)), e.stage, e.name))

    def stages(self) -> list[str]:
        """The standard stages and any a user has added."""
        extra = sorted({e.stage for e in self.entries()} - set(STAGES))
        return list(STAGES) + extra

    def find(self, ref: str) -> PresetEntry:
        """``stage/name``, or a bare ``name`` found in exactly one stage.

        Every command that names a preset comes through here, so each one answers a typo
        with the same :class:`PresetNotFoundError` and its closest names.
        """
        stage, _, name = ref.rpartition("/")
        entries = self.list()
        matches = [e for e in entries if e.name == name and (not stage or e.stage == stage)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            choices = ", ".join(e.ref for e in matches)
            raise PresetError(ref, "", f"more than one preset is called {name!r}; say which: {choices}")
        raise PresetNotFoundError(ref, closest_refs(ref, entries), [e.ref for e in entries])

    def load(self, ref: str) -> Preset:
        """A preset by reference, or from a file path ending in .json."""
        if ref.endswith(".json") and Path(ref).exists():
            return read_preset(Path(ref))
        if ref.endswith(".json") and not any(e.name == ref.rpartition("/")[2] for e in self.entries()):
            raise PresetError(ref, "", "no such file, and no preset has that name; check the path "
                                       "('rackhost presets list' shows the presets)")
        return read_preset(self.find(ref).path)

    # -- changing (user presets only) ----------------------------------------------

    def save(self, preset: Preset, *, overwrite: bool = False) -> PresetEntry:
        """Save as a user preset. Refuses a name a factory preset has, or an existing one unless ``overwrite``."""
        _check_name(preset.name)
        _check_stage(preset.stage)
        existing = [e for e in self.entries() if e.stage == preset.stage and e.name == preset.name]
        if any(e.factory for e in existing):
            raise PresetError(f"{preset.stage}/{preset.name}", "",
                              "a factory preset has this name; factory presets are read-only, so choose another "
                              "name ('presets import' takes --name NEW)")
        if existing and not overwrite:
            raise PresetExistsError(f"{preset.stage}/{preset.name}", existing[0].path)
        stamp = now()
        preset = replace(preset, created=preset.created or stamp, modified=stamp)
        path = existing[0].path if existing else self._free_path(preset.stage, preset.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_preset(preset, path)
        except OSError as err:
            raise PresetError(str(path), "", f"could not be saved ({err.strerror or err}); nothing was changed") from None
        return self.find(f"{preset.stage}/{preset.name}")

    def delete(self, ref: str) -> PresetEntry:
        entry = self._user_entry(ref, "deleted")
        entry.path.unlink()
        return entry

    def rename(self, ref: str, new_name: str) -> PresetEntry:
        entry = self._user_entry(ref, "renamed")
        preset = replace(read_preset(entry.path), name=new_name)
        saved = self._save_new(preset)
        if saved.path != entry.path:
            entry.path.unlink()
        return saved

    def duplicate(self, ref: str, new_name: str) -> PresetEntry:
        preset = replace(self.load(ref), name=new_name, created="")
        return self._save_new(preset)

    def _save_new(self, preset: Preset) -> PresetEntry:
        """Save under a name that must be free: rename and duplicate have no --overwrite to offer."""
        try:
            return self.save(preset)
        except PresetExistsError as err:
            raise PresetExistsError(err.ref, err.path, "choose another name (or delete that one first)") from None

    def export(self, ref: str, path: Path) -> Path:
        write_preset(self.load(ref), path)
        return path

    def import_file(self, path: Path, *, overwrite: bool = False, name: str | None = None) -> PresetEntry:
        """Save the preset in ``path`` as a user preset, under ``name`` if given (an exported factory preset
        comes back under its factory name, which is taken)."""
        preset = read_preset(path)
        return self.save(preset if name is None else replace(preset, name=name, created=""), overwrite=overwrite)

    def _user_entry(self, ref: str, action: str) -> PresetEntry:
        entry = self.find(ref)
        if entry.factory:
            raise PresetError(entry.ref, "", f"factory presets are read-only and cannot be {action}; "
                                             f"duplicate it first ('rackhost presets duplicate')")
        return entry

    def _free_path(self, stage: str, name: str) -> Path:
        folder = self.user_dir / stage
        stem = file_stem(name)
        path, n = folder / f"{stem}.json", 2
        while path.exists():
            path, n = folder / f"{stem}-{n}.json", n + 1
        return path


def closest_refs(ref: str, entries: list[PresetEntry], n: int = 3) -> list[str]:
    """Up to ``n`` presets whose name is spelt like the one in ``ref``, the closest first.

    The name decides, whatever stage ``ref`` gives ('mixing/cd' finds mastering/cd); among names
    as close, one in the stage given comes first. Only names about as close as the best are
    offered, so 'mastering/cdd' suggests mastering/cd and not every name with a 'cd' in it.
    """
    stage, _, name = ref.lower().rpartition("/")
    scored = []
    for entry in entries:
        matcher = difflib.SequenceMatcher(None, name, entry.name.lower())
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            scored.append((matcher.ratio(), entry.stage == stage, entry.ref))
    scored = sorted((s for s in scored if s[0] >= 0.6), reverse=True)
    return [r for score, _, r in scored if score >= scored[0][0] - 0.1][:n] if scored else []


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def file_stem(name: str) -> str:
    """A file name for any preset name: path separators and other unsafe characters become '-'."""
    stem = _UNSAFE.sub("-", name).strip(" .-") or "preset"
    return stem[:100]


def _check_name(name: str) -> None:
    if not name.strip() or "/" in name or any(ord(c) < 32 for c in name) or len(name) > 200:
        raise PresetError(name, "", "a preset name must be non-empty text without '/' or control characters, "
                                    "at most 200 characters")


def _check_stage(stage: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", stage):
        raise PresetError(stage, "stage", "a stage name is lower-case letters, digits, - and _ "
                                          f"(the standard ones are {', '.join(STAGES)})")
