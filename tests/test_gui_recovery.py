"""Crash recovery: the window's autosave beside the session, offered back after a SIGKILL, never over the user's file.

The logic (:mod:`rackhost.gui.recovery`) is tested on real sessions and files
with a stepped clock; the crash itself on a real window process under Xvfb,
killed with SIGKILL after edits and started again.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import SR, program_signal
from gui_driver import until
from rackhost.chain import Session
from rackhost.gui.recovery import Autosave, data_dir, pending_recovery, recovery_path, write_recovery
from rackhost.presets import load_session, save_session

SCRIPT = Path(__file__).parent / "gui_recovery_run.py"


@pytest.fixture
def song(tmp_path, wav_file) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav")).chain.add("Reverb")
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_recovery_file_sits_beside_the_session_or_in_the_data_folder_when_never_saved(tmp_path):
    assert recovery_path(tmp_path / "song.json") == tmp_path / ".song.json.recovery"
    assert recovery_path(None).parent == data_dir()


def test_autosave_writes_at_a_structural_edit_and_every_interval_but_never_the_users_file(song):
    before = song.read_bytes()
    session = load_session(song)
    clock = Clock()
    autosave = Autosave(interval=30.0, clock=clock)
    saved = session.history.changes
    assert not autosave.tick(session, song, saved)  # nothing changed: nothing written
    session.edit.set_gain(session.tracks[0], -6.0)
    clock.now += 5
    assert not autosave.tick(session, song, saved)  # a fader move waits for the interval
    clock.now += 30
    assert autosave.tick(session, song, saved)
    assert load_session(recovery_path(song)).tracks[0].gain_db == -6.0
    session.edit.remove_slot(session.tracks[0].chain, 0)
    autosave.structure_changed()
    clock.now += 1
    assert autosave.tick(session, song, saved)  # a structural edit is written at once
    assert len(load_session(recovery_path(song)).tracks[0].chain) == 0
    assert not autosave.tick(session, song, saved)  # nothing new since
    assert song.read_bytes() == before


def test_a_save_or_undoing_back_to_the_saved_state_removes_the_recovery_file(song):
    session = load_session(song)
    autosave = Autosave(clock=Clock())
    saved = session.history.changes
    session.edit.set_gain(session.tracks[0], -3.0)
    autosave.structure_changed()
    autosave.tick(session, song, saved)
    assert recovery_path(song).exists()
    save_session(session, song)
    autosave.tick(session, song, session.history.changes)
    assert not recovery_path(song).exists()


def test_a_recovery_older_than_the_session_is_not_offered_and_relative_audio_still_opens(song):
    session = load_session(song)
    session.edit.set_gain(session.tracks[0], -9.0)
    write_recovery(session, song)
    assert pending_recovery(song) == recovery_path(song)
    restored = load_session(recovery_path(song))  # audio paths relative to the session's folder still resolve
    assert restored.tracks[0].gain_db == -9.0 and restored.tracks[0].source.path.exists()
    later = recovery_path(song).stat().st_mtime + 5
    os.utime(song, (later, later))  # saved since, by another rackhost
    assert pending_recovery(song) is None


def test_an_unsaved_session_is_autosaved_into_the_data_folder():
    session = Session()
    autosave = Autosave(clock=Clock())
    session.edit.set_gain(session.master, -2.0)
    autosave.structure_changed()
    assert autosave.tick(session, None, 0)
    assert pending_recovery(None) == data_dir() / "unsaved-session.recovery"
    autosave.clean_quit(None)
    assert pending_recovery(None) is None


@pytest.fixture
def x_display(monkeypatch):
    """A virtual X display of the test's own (Xvfb picks a free number and tells it)."""
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = server.stdout.readline().strip()
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(10)


class Lines:
    """What a window process prints, a line at a time, with a timeout (a reader thread: readline blocks)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip():
                self.queue.put(line.strip())

    def next(self, timeout: float = 120.0) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the window printed nothing in {timeout:.0f} s "
                                 f"(exit code {self.process.poll()})") from None


def test_a_window_killed_after_edits_offers_them_back_at_the_next_start_and_a_save_clears_it(x_display, song):
    assert shutil.which("xdotool"), "make setup installs xdotool"
    before = song.read_bytes()
    window = subprocess.Popen([sys.executable, str(SCRIPT), "edit", str(song)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert Lines(window).next().startswith("edited")
    finally:
        window.send_signal(signal.SIGKILL)  # no clean quit: as a plug-in crash or a power cut would end it
        window.wait(10)
    assert song.read_bytes() == before, "autosave must never write the user's file"
    assert recovery_path(song).exists()

    again = subprocess.Popen([sys.executable, str(SCRIPT), "restore", str(song)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    lines = Lines(again)
    try:
        offer = json.loads(lines.next())
        restored = json.loads(lines.next())
        undone = json.loads(lines.next())
        saved = json.loads(lines.next())
        assert again.wait(60) == 0
    finally:
        if again.poll() is None:
            again.kill()
    assert offer["question"] == "Restore unsaved changes?" and "song.json" in offer["text"][0]
    assert restored["tracks"] == ["drums", "after the crash"] and restored["gain_db"] == -12.0
    assert restored["dirty"] and restored["session_path"] == str(song.resolve())
    assert restored["user_file_tracks"] == ["drums"]  # restoring leaves the user's file until they save
    # The restore is one step after the file as it was opened: undo goes back to the saved file, redo forward.
    assert len(restored["history"]) == 1 and restored["history"][0].startswith("restore unsaved changes (autosaved ")
    assert restored["history_list"][0] == "(opened)" and restored["history_list"][1].startswith("1. restore")
    assert restored["history_list"][1].endswith("..")  # cut to the History column, and showing it
    assert undone["tracks"] == ["drums"] and undone["gain_db"] == 0.0 and undone["redo"] == restored["history"]
    assert saved == {"saved_tracks": ["drums", "after the crash"], "recovery_left": False}


def test_discard_recovery_on_the_command_line_drops_it_and_opens_the_file_as_saved(x_display, song, tmp_path):
    session = load_session(song)
    session.edit.set_gain(session.tracks[0], -20.0)
    write_recovery(session, song)
    before = song.read_bytes()
    shot = tmp_path / "shot.png"
    run = subprocess.run([sys.executable, "-m", "rackhost", "gui", str(song), "--no-engine", "--discard-recovery",
                          "--screenshot", str(shot)], check=False, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not recovery_path(song).exists()
    assert song.read_bytes() == before


def test_an_engine_restarted_after_it_died_plays_on_from_where_it_was(jack_server, tmp_path, wav_file):
    import dearpygui.dearpygui as dpg

    from rackhost.gui.app import RackApp

    session = Session(sample_rate=SR, block_size=256)
    session.add_track("long", wav_file(program_signal(2, 30.0), "long.wav"))
    path = tmp_path / "long.json"
    save_session(session, path)
    app = RackApp(load_session(path), path, start_engine=False)
    dpg.create_context()
    try:
        app.build()
        app.restart_engine()
        until(app, lambda: app.engine is not None, "the engine to start")
        app.play()
        until(app, lambda: app.transport[1] and app.transport[0] > 2 * SR, "two seconds played")
        died_at = app.transport[0]
        os.kill(app.engine.pid, signal.SIGKILL)  # a plug-in crashing the engine process
        until(app, lambda: app.engine is None, "the window to see the engine die")
        app.restart_engine()  # what the "Restart engine" answer does
        until(app, lambda: app.engine is not None and app.engine.alive and app._resume is None,
              "the new engine to run")
        until(app, lambda: app.transport[1], "playback to go on")
        assert died_at <= app.transport[0] < died_at + 10 * SR  # from where it died, not from the top
    finally:
        app.close()
        dpg.destroy_context()


def test_a_restore_is_one_undo_step_that_keeps_midi_mappings_and_the_users_file(song):
    from gui_driver import built_window

    from rackhost.chain.midi import CCMapping, MappingTarget

    saved = load_session(song)
    saved.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), -40.0, 0.0))
    save_session(saved, song)
    crashed = load_session(song)
    crashed.add_track("after the crash", crashed.tracks[0].source.path)
    crashed.edit.set_gain(crashed.tracks[0], -12.0)
    write_recovery(crashed, song)
    before = song.read_bytes()
    with built_window(song) as app:
        opened = app.session.history.changes
        app.files.saved_changes = opened
        app.structure_changed()  # as the window does once a session is shown: the mappings are anchored
        app.files.restore(recovery_path(song))
        while app.files.loading or app.loader.pending:
            app.loader.finish()
            time.sleep(0.01)
        assert [t.name for t in app.session.tracks] == ["drums", "after the crash"] and app.files.dirty
        assert app.session.history.labels()[0][0].startswith("restore unsaved changes (autosaved ")
        app.undo()
        assert [t.name for t in app.session.tracks] == ["drums"] and app.session.tracks[0].gain_db == 0.0
        app.redo()
        assert [t.name for t in app.session.tracks] == ["drums", "after the crash"]
        assert app.session.tracks[0].gain_db == -12.0
        # Each side keeps its own controller mapping: none was dropped by following the other side's strips.
        assert len(app.session.midi.mappings) == 1 and not [m for m in app.messages if "dropped" in m
                                                             or "removed" in m]
        app.undo()
        assert len(app.session.midi.mappings) == 1
    assert song.read_bytes() == before
