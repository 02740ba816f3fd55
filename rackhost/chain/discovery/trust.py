"""Which plug-ins rackhost may load: those in a scanned folder, or ones the user allowed explicitly.

Loading a plug-in runs its native code with the user's rights, so a preset or
session file must not be able to make rackhost load a binary from anywhere it
likes (a downloaded session pointing at ``~/Downloads/evil.vst3``). Plug-ins are
trusted when they live in a folder rackhost scans: the standard VST3 folders,
``$RACKHOST_VST3_PATH``, the project's build folder, and folders the user added
with ``rackhost scan --add-path DIR`` (kept in the user config folder, or
``$RACKHOST_CONFIG_DIR``). A list written by a newer rackhost is refused
(:class:`rackhost.versions.NewerVersionError`) and left as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

from rackhost.atomic import VERSION_KEY, write_json
from rackhost.chain.folders import plugin_folders
from rackhost.errors import RackhostError
from rackhost.versions import Migration, NewerVersionError, VersionError, migrate, old_version_key, rename_version_key

CONFIG_DIR_VARIABLE = "RACKHOST_CONFIG_DIR"
FOLDERS_FILE_NAME = "plugin-folders.json"
FOLDERS_FORMAT = "rackhost-plugin-folders"
FOLDERS_VERSION = 2

# format_version N -> function turning a version-N list into version N+1.
MIGRATIONS: dict[int, Migration] = {1: rename_version_key}

# The command-line switch that loads an untrusted plug-in anyway; named here so
# the error message and the CLI that defines it cannot drift apart.
ALLOW_FLAG = "--allow-untrusted-plugin"


class UntrustedPluginError(RackhostError):
    """A plug-in outside every scanned folder was asked for without the user allowing it."""

    def __init__(self, path: str, folders: list[str]):
        self.path = path
        self.folders = folders
        super().__init__(
            f"refusing to load plug-in {path!r}: it is not in a folder rackhost scans "
            f"({', '.join(folders) or 'none'}), and loading a plug-in runs its code with your rights. "
            f"If you trust it, add its folder with 'rackhost scan --add-path {os.path.dirname(path) or '.'}', "
            f"or allow this one load with {ALLOW_FLAG}."
        )


class PluginFoldersFileError(RackhostError):
    """The file of user-added plug-in folders exists but cannot be used."""


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_VARIABLE)
    return Path(override) if override else Path(platformdirs.user_config_dir("rackhost"))


def folders_file() -> Path:
    return config_dir() / FOLDERS_FILE_NAME


def added_folders() -> list[Path]:
    """Folders the user added with ``rackhost scan --add-path``, in the order added."""
    path = folders_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        # Unlike the cache, this file is the user's own choice of trusted
        # folders: silently forgetting it would be wrong, so say how to fix it.
        raise PluginFoldersFileError(
            f"cannot read the plug-in folder list {str(path)!r} ({err}); fix or delete it, "
            f"then add folders again with 'rackhost scan --add-path DIR'"
        ) from err
    unusable = PluginFoldersFileError(
        f"{str(path)!r} is not a rackhost plug-in folder list this rackhost can read; fix or delete it, "
        f"then add folders again with 'rackhost scan --add-path DIR'"
    )
    if not isinstance(data, dict) or data.get("format") != FOLDERS_FORMAT:
        raise unusable
    try:
        # A newer list is refused as it is (NewerVersionError), never rewritten without the keys it added.
        data = migrate(data, path, kind="plug-in folder list", current=FOLDERS_VERSION, migrations=MIGRATIONS,
                       legacy=old_version_key)
    except NewerVersionError:
        raise
    except VersionError as err:
        raise unusable from err
    if not isinstance(data.get("folders"), list):
        raise unusable
    return [Path(str(folder)) for folder in data["folders"]]


def add_folder(folder: str | Path) -> Path:
    """Trust and scan ``folder`` from now on; returns it as stored (absolute). Adding it twice is harmless."""
    folder = Path(os.path.abspath(Path(folder).expanduser()))
    if not folder.is_dir():
        raise RackhostError(
            f"cannot add plug-in folder {str(folder)!r}: it is not an existing folder; "
            f"give the folder that holds the .vst3 bundles"
        )
    current = added_folders()
    if folder not in current:
        path = folders_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"format": FOLDERS_FORMAT, VERSION_KEY: FOLDERS_VERSION,
                          "folders": [str(f) for f in current + [folder]]})
    return folder


def scan_folders() -> list[Path]:
    """Every folder a scan searches and whose plug-ins are trusted: the standard ones, then the user's."""
    folders = plugin_folders()
    return folders + [f for f in added_folders() if f not in folders]


def is_trusted(path: str | Path, folders: list[Path] | None = None) -> bool:
    folders = scan_folders() if folders is None else folders
    # Lexically normalised first, so '..' cannot climb out of a trusted folder;
    # then fully resolved, so a symlinked plug-in folder (~/.vst3 -> elsewhere)
    # still trusts what it holds. A symlink the user put inside a trusted folder
    # is itself a decision to trust its target.
    candidates = {Path(os.path.abspath(path)), Path(path).resolve()}
    roots = {Path(os.path.abspath(f)) for f in folders} | {f.resolve() for f in folders}
    return any(c.is_relative_to(r) for c in candidates for r in roots)


def check_trusted(path: str | Path) -> None:
    """Raise :class:`UntrustedPluginError` unless ``path`` is inside a scanned or user-added folder."""
    folders = scan_folders()
    if not is_trusted(path, folders):
        raise UntrustedPluginError(os.path.abspath(path), [str(f) for f in folders])
