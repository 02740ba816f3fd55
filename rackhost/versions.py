"""The ``format_version`` every rackhost file carries: reading it, migrating older files, refusing newer ones.

A file is upgraded on load one version at a time by small functions
(``{N: turn a version-N document into version N+1}``); nothing is written
back until the user saves. A file from a newer rackhost is refused with
:class:`NewerVersionError` rather than read in part: its new keys would be
dropped, and saving it again would lose them. Files from before
``format_version`` (the scan cache and plug-in folder list said ``"version"``,
the recent-sessions list was a bare list) are given a version by the caller's
``legacy`` function and migrated like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from rackhost.atomic import VERSION_KEY
from rackhost.errors import RackhostError

Migration = Callable[[Any], dict]
Legacy = Callable[[Any], int | None]


class VersionError(RackhostError):
    """A file's ``format_version`` is missing, not a whole number, or one no migration starts from."""

    def __init__(self, path: Path | str, kind: str, problem: str):
        self.path = str(path)
        self.kind = kind
        self.problem = problem
        super().__init__(f"{kind} {self.path!r} at {VERSION_KEY}: {problem}")


class NewerVersionError(VersionError):
    """The file was written by a newer rackhost; it is left exactly as it is."""

    def __init__(self, path: Path | str, kind: str, found: int, current: int):
        self.found = found
        self.current = current
        super().__init__(path, kind, f"version {found} is newer than this rackhost understands "
                                     f"(it reads up to version {current}); update rackhost to use this file")


def version_of(document: Any, path: Path | str, *, kind: str = "file", current: int | None = None,
               legacy: Legacy | None = None) -> int:
    """The ``format_version`` of a parsed document, or what ``legacy`` says an older layout is.

    ``current`` only words the error (what this rackhost writes).
    """
    if isinstance(document, Mapping) and VERSION_KEY in document:
        version = document[VERSION_KEY]
        if isinstance(version, int) and not isinstance(version, bool):
            return version
    elif legacy is not None:
        version = legacy(document)
        if version is not None:
            return version
    writes = f" (this rackhost writes {current})" if current is not None else ""
    raise VersionError(path, kind, f"missing or not a whole number{writes}")


def migrate(document: Any, path: Path | str, *, kind: str, current: int,
            migrations: Mapping[int, Migration], legacy: Legacy | None = None) -> dict:
    """``document`` upgraded to version ``current``; :class:`NewerVersionError` if it is newer.

    Each migration must set ``format_version`` to the version it produces.
    """
    version = version_of(document, path, kind=kind, current=current, legacy=legacy)
    if version > current:
        raise NewerVersionError(path, kind, version, current)
    while version < current:
        step = migrations.get(version)
        if step is None:
            raise VersionError(path, kind, f"version {version} is not a known {kind} version")
        document = step(document)
        version = version_of(document, path, kind=kind, current=current)
    return document


def old_version_key(document: Any) -> int | None:
    """Version 1 of the scan cache and the plug-in folder list said ``"version": 1``, before ``format_version``."""
    return 1 if isinstance(document, Mapping) and document.get("version") == 1 else None


def rename_version_key(document: dict) -> dict:
    """Their migration from version 1 to 2: only the key's name changed."""
    out = {key: value for key, value in document.items() if key != "version"}
    return dict(out, **{VERSION_KEY: 2})
