"""The scan cache: what each plug-in bundle was found to be, keyed by its path and a fingerprint of its files.

The cache lives in the user cache folder (``platformdirs.user_cache_dir("rackhost")``,
or ``$RACKHOST_CACHE_DIR``). It is only ever a copy of what a scan can rebuild,
so a file that is corrupt, or from a newer rackhost, is discarded with a
warning and the plug-ins are probed again; it never stops a scan. An older
cache (``"version": 1``, before ``format_version``) is migrated and kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from rackhost.atomic import VERSION_KEY, write_json
from rackhost.versions import Migration, NewerVersionError, VersionError, migrate, old_version_key, rename_version_key

log = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "RACKHOST_CACHE_DIR"
CACHE_FILE_NAME = "plugins.json"
CACHE_FORMAT = "rackhost-plugin-cache"
CACHE_VERSION = 2

# format_version N -> function turning a version-N cache into version N+1.
MIGRATIONS: dict[int, Migration] = {1: rename_version_key}

Status = Literal["ok", "failed"]


def cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_VARIABLE)
    return Path(override) if override else Path(platformdirs.user_cache_dir("rackhost"))


def default_cache_path() -> Path:
    return cache_dir() / CACHE_FILE_NAME


def fingerprint(bundle: Path) -> str:
    """A hash of the relative path, size and mtime of every file in a bundle (or of the file itself).

    A VST3 bundle is a folder; its binary may change without the folder's own
    mtime changing, so every file counts. Contents are not read: hashing a
    100 MB plug-in at every scan would make a rescan slow, and an update that
    keeps both size and mtime is vanishingly rare.
    """
    root = bundle.resolve()
    lines = []
    if root.is_dir():
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                full = Path(folder, name)
                try:
                    st = full.stat()
                except OSError:  # a dangling symlink inside a bundle: count it as present but empty
                    lines.append(f"{full.relative_to(root)}\0missing")
                    continue
                lines.append(f"{full.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}")
    else:
        st = root.stat()
        lines.append(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class PluginRecord:
    """One bundle as last scanned: its description if it loaded, or why it failed."""

    path: str
    fingerprint: str
    status: Status
    info: dict | None = None
    error: str | None = None
    probe_seconds: float = 0.0
    scanned_at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def name(self) -> str:
        if self.info and self.info.get("name"):
            return str(self.info["name"])
        return Path(self.path).stem

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> PluginRecord:
        if data.get("status") not in ("ok", "failed"):
            raise ValueError(f"unknown status {data.get('status')!r}")
        return cls(
            path=str(data["path"]),
            fingerprint=str(data["fingerprint"]),
            status=data["status"],
            info=data.get("info"),
            error=data.get("error"),
            probe_seconds=float(data.get("probe_seconds", 0.0)),
            scanned_at=float(data.get("scanned_at", 0.0)),
        )


@dataclass
class PluginCache:
    """Records by bundle path; ``warning`` says why an unusable cache file was discarded."""

    path: Path
    records: dict[str, PluginRecord] = field(default_factory=dict)
    warning: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> PluginCache:
        path = path or default_cache_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as err:
            return cls._discarded(path, f"cannot read it ({err.strerror})")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
                return cls._discarded(path, "it is not a rackhost plug-in cache")
            data = migrate(data, path, kind="plug-in cache", current=CACHE_VERSION, migrations=MIGRATIONS,
                           legacy=old_version_key)
            records = [PluginRecord.from_dict(item) for item in data["plugins"]]
        except NewerVersionError as err:
            # Only a copy of what a scan rebuilds: a newer rackhost's cache is set aside, not refused.
            return cls._discarded(path, f"a newer rackhost wrote it (format_version {err.found}; "
                                        f"this one reads up to {err.current})")
        except VersionError as err:
            return cls._discarded(path, f"its format_version is unusable: {err.problem}")
        except (ValueError, KeyError, TypeError) as err:
            return cls._discarded(path, f"it is corrupt ({err})")
        return cls(path, {r.path: r for r in records})

    @classmethod
    def _discarded(cls, path: Path, reason: str) -> PluginCache:
        warning = f"discarded the plug-in cache {str(path)!r} because {reason}; every plug-in will be probed again"
        log.warning(warning)
        return cls(path, warning=warning)

    def save(self) -> None:
        data = {
            "format": CACHE_FORMAT,
            VERSION_KEY: CACHE_VERSION,
            "plugins": [self.records[key].to_dict() for key in sorted(self.records)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, data)

    def ok(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.ok]

    def failed(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if not r.ok]

    def display_names(self, bundles: dict[str, Path]) -> dict[str, str]:
        """The name each found bundle's plug-in calls itself, by bundle name, where it differs.

        ``bundles`` maps bundle names to paths (as :func:`find_plugin_files` gives
        them). DPF's 3BandEQ.vst3 calls itself '3 Band EQ', the name a host shows
        and the user copies; only bundles whose last probe passed are known here.
        """
        names = {}
        for bundle, path in bundles.items():
            record = self.records.get(str(Path(path).absolute()))
            if record is not None and record.ok and record.name != bundle:
                names[bundle] = record.name
        return names

    def bundle_for_display_name(self, name: str, bundles: dict[str, Path]) -> Path | None:
        """The bundle whose plug-in calls itself ``name`` (case-insensitive); None if none, or more than one, does."""
        matches = [bundle for bundle, shown in self.display_names(bundles).items() if shown.lower() == name.lower()]
        return bundles[matches[0]] if len(matches) == 1 else None
