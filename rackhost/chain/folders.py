"""Where plug-ins live on each platform, and finding one by name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Set to a list of folders (os.pathsep-separated) to search before the standard ones.
PATH_VARIABLE = "RACKHOST_VST3_PATH"

# `make setup` builds plug-ins from Debian's dpf-plugins source here, so a
# checkout finds them without installing anything system-wide.
PROJECT_PLUGIN_FOLDER = Path(__file__).resolve().parents[2] / "build" / "vst3"


def standard_vst3_folders() -> list[Path]:
    """The VST3 folders the platform's hosts search, user folders first."""
    home = Path.home()
    if sys.platform == "darwin":
        return [home / "Library/Audio/Plug-Ins/VST3", Path("/Library/Audio/Plug-Ins/VST3")]
    if sys.platform == "win32":
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData/Local"))
        common = Path(os.environ.get("COMMONPROGRAMFILES", "C:/Program Files/Common Files"))
        return [local / "Programs/Common/VST3", common / "VST3"]
    return [home / ".vst3", Path("/usr/local/lib/vst3"), Path("/usr/lib/vst3")]


def standard_au_folders() -> list[Path]:
    if sys.platform != "darwin":
        return []
    return [Path.home() / "Library/Audio/Plug-Ins/Components", Path("/Library/Audio/Plug-Ins/Components")]


def plugin_folders() -> list[Path]:
    """Every folder rackhost searches, in order: $RACKHOST_VST3_PATH, the project's, the standard ones."""
    extra = [Path(p) for p in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if p]
    folders = extra + [PROJECT_PLUGIN_FOLDER] + standard_vst3_folders() + standard_au_folders()
    seen: set[Path] = set()
    unique = []
    for folder in folders:
        if folder not in seen:
            seen.add(folder)
            unique.append(folder)
    return unique


def find_plugin_files(folders: list[Path] | None = None) -> dict[str, Path]:
    """Plug-in bundles by name (file name without extension); the first folder wins."""
    found: dict[str, Path] = {}
    for folder in folders if folders is not None else plugin_folders():
        if not folder.is_dir():
            continue
        for entry in sorted(folder.rglob("*")):
            if entry.suffix.lower() in (".vst3", ".component") and entry.stem not in found:
                # A .vst3 bundle is a folder that may itself contain .vst3 files; take the outer one.
                if not any(parent.suffix.lower() == ".vst3" for parent in entry.parents):
                    found[entry.stem] = entry
    return found


def find_plugin_file(name: str, folders: list[Path] | None = None) -> Path | None:
    """The bundle called ``name`` (case-insensitive, extension optional), or None."""
    wanted = name.lower().removesuffix(".vst3").removesuffix(".component")
    for stem, path in find_plugin_files(folders).items():
        if stem.lower() == wanted:
            return path
    return None
