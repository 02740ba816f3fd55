"""Crash recovery: the window's session autosaved beside the user's file, and offered back at the next start.

The recovery file is the session format, written atomically, never over the
user's file: ``.song.json.recovery`` beside ``song.json``, or
``unsaved-session.recovery`` in the user data folder for a session never
saved. It is written every :data:`INTERVAL` seconds while there are unsaved
changes, and at once after a structural edit; it goes when the changes are
saved (or undone back to the saved state) and on a clean quit. So a recovery
file that outlives its window, and is newer than the session, means rackhost
ended without a clean save: the next start offers to restore it.

Nothing here touches Dear PyGui: the window calls :meth:`Autosave.tick` from
its frame loop.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import platformdirs

from rackhost.atomic import write_json
from rackhost.chain import Session
from rackhost.presets.store import DATA_DIR_VARIABLE

INTERVAL = 30.0  # seconds between autosaves while changes keep coming
UNSAVED_NAME = "unsaved-session.recovery"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_VARIABLE) or platformdirs.user_data_dir("rackhost"))


def recovery_path(session_path: Path | None) -> Path:
    """Where the autosave of the session at ``session_path`` (None: never saved) goes."""
    if session_path is None:
        return data_dir() / UNSAVED_NAME
    session_path = Path(os.path.abspath(session_path))
    return session_path.parent / f".{session_path.name}.recovery"


def pending_recovery(session_path: Path | None) -> Path | None:
    """The recovery file a start should offer: one newer than the session (or whose session is gone)."""
    recovery = recovery_path(session_path)
    try:
        written = recovery.stat().st_mtime
    except FileNotFoundError:
        return None
    if session_path is not None:
        try:
            if Path(session_path).stat().st_mtime > written:
                return None  # saved since (by another rackhost, or by hand): the recovery is stale
        except FileNotFoundError:
            pass
    return recovery


def write_recovery(session: Session, session_path: Path | None) -> Path:
    """Write ``session`` to its recovery file (atomically); audio paths as the session file would have them."""
    from rackhost.presets.paths import session_folder
    from rackhost.presets.session_file import session_to_dict

    recovery = recovery_path(session_path)
    recovery.parent.mkdir(parents=True, exist_ok=True)
    base = session_folder(session_path) if session_path is not None else None
    write_json(recovery, session_to_dict(session, base))
    return recovery


def discard_recovery(session_path: Path | None) -> None:
    recovery_path(session_path).unlink(missing_ok=True)


@dataclass
class Autosave:
    """When to write the recovery file; the window calls :meth:`tick` once a frame.

    ``paused`` while a start's restore offer is unanswered: the old recovery
    file must not be overwritten before the user chose.
    """

    interval: float = INTERVAL
    clock: Callable[[], float] = time.monotonic
    paused: bool = False
    structural: bool = False  # a structural edit since the last write: write at the next tick
    written: Path | None = None  # the recovery file this window wrote and still owns
    written_changes: int | None = None
    last_write: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.last_write = self.clock()

    def structure_changed(self) -> None:
        self.structural = True

    def tick(self, session: Session, session_path: Path | None, saved_changes: int) -> bool:
        """Write or remove the recovery file as the session's state asks; True if it was written."""
        if self.paused:
            return False
        changes = session.history.changes
        target = recovery_path(session_path)
        if self.written is not None and self.written != target:
            self._remove()  # saved as another file, or another session opened: the old recovery is moot
        if changes == saved_changes:
            self.structural = False
            if self.written is not None:
                self._remove()  # saved (or undone back to what is saved): nothing to recover
            return False
        if changes == self.written_changes:
            self.structural = False
            return False
        now = self.clock()
        if not self.structural and now - self.last_write < self.interval:
            return False
        self.written = write_recovery(session, session_path)
        self.written_changes = changes
        self.structural = False
        self.last_write = now
        return True

    def clean_quit(self, session_path: Path | None) -> None:
        """The window closed after its own question about unsaved changes: the recovery file goes."""
        if not self.paused:
            self._remove()
            discard_recovery(session_path)

    def _remove(self) -> None:
        if self.written is not None:
            self.written.unlink(missing_ok=True)
        self.written = None
        self.written_changes = None
