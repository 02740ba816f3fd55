"""The File menu: new, open, save, save as, recent sessions, and the "unsaved changes" question.

Opening loads the session's plug-ins on the plug-in thread (the window keeps
drawing); saving is atomic (:func:`rackhost.presets.save_session`). The
recent list is a small versioned JSON file in the user's config folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from rackhost.atomic import VERSION_KEY, write_json
from rackhost.chain import Session
from rackhost.gui.host import FilesHost
from rackhost.versions import Migration, NewerVersionError, VersionError, migrate

RECENT_LIMIT = 10
RECENT_FORMAT = "rackhost-recent-sessions"
RECENT_VERSION = 2


def _recent_v1_to_v2(entries: list) -> dict:
    """Version 1 was a bare list of paths, with no version."""
    return {"format": RECENT_FORMAT, VERSION_KEY: 2, "sessions": entries}


def _recent_legacy(document: Any) -> int | None:
    return 1 if isinstance(document, list) else None


RECENT_MIGRATIONS: dict[int, Migration] = {1: _recent_v1_to_v2}


def recent_file() -> Path:
    from rackhost.chain.discovery.trust import config_dir

    return config_dir() / "recent-sessions.json"


def recent_sessions() -> list[Path]:
    """Sessions opened or saved lately, newest first; a damaged list is treated as empty.

    A list from a newer rackhost raises :class:`NewerVersionError`: forgetting it would
    overwrite it at the next save.
    """
    path = recent_file()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc = migrate(doc, path, kind="recent-sessions list", current=RECENT_VERSION,
                      migrations=RECENT_MIGRATIONS, legacy=_recent_legacy)
    except NewerVersionError:
        raise
    except (OSError, ValueError, VersionError):
        return []
    entries = doc.get("sessions")
    return [Path(e) for e in entries if isinstance(e, str)] if isinstance(entries, list) else []


def remember(path: Path) -> None:
    """Put ``path`` first in the recent list; a newer rackhost's list raises and is left as it is."""
    entries = [path.resolve()] + [p for p in recent_sessions() if p != path.resolve()]
    target = recent_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, {"format": RECENT_FORMAT, VERSION_KEY: RECENT_VERSION,
                        "sessions": [str(p) for p in entries[:RECENT_LIMIT]]})


class SessionFiles:
    def __init__(self, app: FilesHost):
        self.app = app
        self.saved_changes = app.session.history.changes
        self.loading = False
        self.recent_menu = 0

    @property
    def dirty(self) -> bool:
        return self.app.session.history.changes != self.saved_changes

    def build_menu(self) -> None:
        with dpg.menu(label="File"):
            dpg.add_menu_item(label="New session", callback=lambda: self.unless_unsaved(self.new))
            dpg.add_menu_item(label="Open...", callback=lambda: self.unless_unsaved(self.choose_open))
            with dpg.menu(label="Open recent") as self.recent_menu:
                pass
            dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.save())
            dpg.add_menu_item(label="Save as...", callback=lambda: self.choose_save())
            dpg.add_separator()
            dpg.add_menu_item(label="Quit", callback=lambda: self.quit())
        self._fill_recent()

    def _fill_recent(self) -> None:
        if not self.recent_menu:
            return
        dpg.delete_item(self.recent_menu, children_only=True)
        try:
            sessions = recent_sessions()
        except NewerVersionError as err:
            dpg.add_menu_item(label=str(err), parent=self.recent_menu, enabled=False)
            return
        for path in sessions:
            dpg.add_menu_item(label=str(path), parent=self.recent_menu, user_data=path,
                              callback=lambda s, a, p: self.unless_unsaved(lambda: self.open(p)))
        if not sessions:
            dpg.add_menu_item(label="(none yet)", parent=self.recent_menu, enabled=False)

    # -- actions ------------------------------------------------------------------------

    def new(self) -> None:
        self._use(Session(), None)

    def open(self, path: Path, *, then: Callable[[], Any] | None = None) -> None:
        """Load ``path`` on the plug-in thread; the current session stays until the new one is ready."""
        from rackhost.presets import load_session
        from rackhost.presets.preset import RestoreReport

        report = RestoreReport()
        self.loading = True

        def opened(session: Session) -> None:
            self.loading = False
            self._use(session, path)
            self._remember(path)
            for warning in report.warnings():
                self.app.tell(warning, error=True)
            if then is not None:
                then()

        def failed(err: BaseException) -> None:
            self.loading = False
            self.app.questions.ask("Could not open the session", str(err), {"OK": lambda: None})

        self.app.loader.submit(f"opening {path.name}...", lambda: load_session(path, report), opened, failed)

    def offer_recovery(self, recover: bool | None = None) -> None:
        """At start: a recovery file newer than the session is restored (``recover``), discarded, or asked about."""
        from rackhost.gui.recovery import discard_recovery, pending_recovery

        path = self.app.session_path
        recovery = pending_recovery(path)
        if recovery is None:
            return
        autosave = self.app.autosave
        name = path.name if path is not None else "the unsaved session"

        def discard() -> None:
            discard_recovery(path)
            autosave.paused = False

        if recover is None:
            autosave.paused = True  # the old recovery file stays as it is until the user chose
            self.app.questions.ask(
                "Restore unsaved changes?",
                f"rackhost ended without saving {name}. Restore the changes autosaved at "
                f"{time.strftime('%H:%M:%S', time.localtime(recovery.stat().st_mtime))}? "
                "Your file is not changed until you save.",
                {"Restore": lambda: self.restore(recovery), "Discard": discard})
        elif recover:
            autosave.paused = True
            self.restore(recovery)
        else:
            discard()

    def restore(self, recovery: Path) -> None:
        """Show the autosaved session in place of the one shown, unsaved: the user's file stays until they save.

        The restore is one undo step after the file as it was opened ("(opened)" in History): undo goes back
        to the saved file, redo to the restored changes; what the crash lost of the history is not claimed.
        """
        from rackhost.presets import load_session
        from rackhost.presets.preset import RestoreReport

        report = RestoreReport()
        when = time.strftime("%H:%M:%S", time.localtime(recovery.stat().st_mtime))
        self.loading = True

        def restored(session: Session) -> None:
            self.loading = False
            self.app.take_session(session, f"restore unsaved changes (autosaved {when})")
            self.app.autosave.paused = False
            self.app.tell(f"restored the unsaved changes from {recovery.name} (Edit > Undo goes back to the "
                          f"saved file); save to keep them")
            for warning in report.warnings():
                self.app.tell(warning, error=True)

        def failed(err: BaseException) -> None:
            self.loading = False
            self.app.autosave.paused = False
            self.app.questions.ask("Could not restore the unsaved changes", str(err), {"OK": lambda: None})

        self.app.loader.submit(f"restoring {recovery.name}...", lambda: load_session(recovery, report),
                               restored, failed)

    def _use(self, session: Session, path: Path | None) -> None:
        self.saved_changes = session.history.changes
        self.app.use_session(session, path)

    def save(self) -> bool:
        if self.app.session_path is None:
            self.choose_save()
            return False
        return self.save_as(self.app.session_path)

    def save_as(self, path: str | Path) -> bool:
        from rackhost.presets import save_session

        path = Path(path)
        if path.suffix != ".json":
            path = path.with_suffix(".json")
        try:
            save_session(self.app.session, path)
        except (OSError, ValueError) as err:
            self.app.questions.ask("Could not save", f"{path}: {err}\nNothing was overwritten.",
                                   {"OK": lambda: None})
            return False
        self.app.session_path = path
        self.saved_changes = self.app.session.history.changes
        self.app.tell(f"saved {path}")
        self._remember(path)
        return True

    def _remember(self, path: Path) -> None:
        try:
            remember(path)
        except NewerVersionError as err:
            self.app.tell(str(err), error=True)  # the session itself is open or saved; only the list is not
        self._fill_recent()

    # -- questions and file choosers -------------------------------------------------------------

    def unless_unsaved(self, then: Callable[[], Any]) -> None:
        """Do ``then`` now, or after asking what to do with unsaved changes."""
        if not self.dirty:
            then()
            return

        def save_then() -> None:
            if self.save():
                then()

        self.app.questions.ask("Unsaved changes", "The session has changes that are not saved.",
                               {"Save": save_then, "Discard": then, "Cancel": lambda: None})

    def quit(self) -> None:
        self.unless_unsaved(dpg.stop_dearpygui)

    def choose_open(self) -> None:
        self._chooser("Open session", ".json", lambda path: self.open(Path(path)))

    def choose_save(self) -> None:
        self._chooser("Save session as", ".json", self.save_as)

    def choose_audio(self, then: Callable[[str], Any]) -> None:
        self._chooser("Audio file for the track", ".wav,.flac,.aiff,.aif,.ogg,.mp3", then)

    def choose_folder(self, title: str, then: Callable[[str], Any]) -> int:
        def chosen(sender: int, data: dict) -> None:
            path = data.get("file_path_name")
            dpg.delete_item(sender)
            if path:
                then(path)

        with dpg.file_dialog(label=title, directory_selector=True, modal=True, width=700, height=420,
                             default_path=str(Path.home()), callback=chosen,
                             cancel_callback=lambda s, a: dpg.delete_item(s)) as dialog:
            pass
        return dialog

    def _chooser(self, title: str, extensions: str, then: Callable[[str], Any]) -> int:
        def chosen(sender: int, data: dict) -> None:
            path = data.get("file_path_name")
            dpg.delete_item(sender)
            if path:
                then(path)

        folder = self.app.session_path.parent if self.app.session_path else Path.cwd()
        with dpg.file_dialog(label=title, directory_selector=False, modal=True, width=700, height=420,
                             default_path=str(folder), callback=chosen,
                             cancel_callback=lambda s, a: dpg.delete_item(s)) as dialog:
            for ext in extensions.split(","):
                dpg.add_file_extension(ext)
            dpg.add_file_extension(".*")
        return dialog
