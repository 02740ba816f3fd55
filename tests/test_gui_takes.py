"""The Takes window: driven with real clicks and keys (xdotool) on the real window under Xvfb, and its logic
with the window built without a display."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
import soundfile as sf
from conftest import SR, program_signal
from gui_driver import built_window, click, until
from gui_takes_clicks import make_session
from jack_harness import Player, align, disconnect_system, find_ports

from rackhost.chain import Session, render
from rackhost.chain.mixer import strip_gains
from rackhost.chain.takes import take_path
from rackhost.gui import takes_view
from rackhost.presets import save_session


def test_the_takes_window_uses_renames_and_deletes_takes_with_real_clicks(tmp_path):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    script = Path(__file__).parent / "gui_takes_clicks.py"
    shot = tmp_path / "takes.png"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(tmp_path), str(shot)], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["opened"] == ["take001", "take002", "take003"]  # the strip's takes button opened the list
    assert result["reads_while_idle"] == 0  # frames draw the waveforms from memory, never from the files
    assert result["source_after_use"] == "vox-take002-dry.wav" and result["input_after_use"] == []
    assert result["playing_marked"]  # the row of the take the track plays says so instead of offering "use"
    assert result["names_after_rename"] == ["verse keeper", "take002", "take003"]
    assert result["refused"].startswith("take 'take002' is the audio file of track 'vox'")
    assert result["after_cancel"] == ["verse keeper", "take002", "take003"]  # Cancel in the question deletes nothing
    assert result["after_delete"] == ["verse keeper", "take002"]
    assert result["files"] == ["vox-take001-verse keeper-dry.wav", "vox-take001-verse keeper-wet.wav",
                               "vox-take002-dry.wav", "vox-take002-wet.wav"]
    assert shot.stat().st_size > 10_000


# -- the same window's logic, built without a display (Dear PyGui builds widgets and runs callbacks without one) --


@pytest.fixture
def window(tmp_path, monkeypatch):
    monkeypatch.setattr(takes_view, "LOOK_SECONDS", 0.0)  # every poll looks at the folder
    with built_window(make_session(tmp_path)) as app:
        yield app, app.open_takes(0), tmp_path / "takes"


def test_a_take_recorded_while_the_window_is_open_appears_and_nothing_is_read_again(window):
    _, view, folder = window
    assert [t.name for t in view.takes] == ["take001", "take002", "take003"]
    reads = takes_view.PEAKS.reads
    for kind in ("dry", "wet"):
        take_path(folder, "vox", 4, kind).write_bytes((folder / f"vox-take001-{kind}.wav").read_bytes())
    assert view.poll()
    assert [t.name for t in view.takes] == ["take001", "take002", "take003", "take004"]
    assert takes_view.PEAKS.reads == reads + 1  # only the new take's file was read
    view.poll()
    assert takes_view.PEAKS.reads == reads + 1  # nothing changed: nothing rebuilt, nothing read


def test_renaming_the_take_a_track_plays_marks_the_session_unsaved_and_the_track_follows(window):
    app, view, _ = window
    click(view.rows[2]["use"])
    saved = app.session.history.changes
    app.files.saved_changes = saved  # as if just saved
    click(view.rows[2]["name"], "chorus")
    vox = app.session.tracks[0]
    assert vox.source.path.name == "vox-take002-chorus-dry.wav" and vox.source.path.exists()
    assert app.files.dirty  # the session file still names the old file until saved
    click(view.rows[1]["name"], "chorus")  # a name another take has: refused, the field shows the old one
    assert "already has a take named 'chorus'" in view.status_text
    assert dpg.get_value(view.rows[1]["name"]) == "take001"


def test_a_track_renamed_on_its_strip_keeps_its_takes_and_undo_gives_them_back(window):
    app, view, folder = window
    click(view.rows[2]["use"])
    click(app.strips[0].name, "lead")  # the strip's name field, Enter
    view.poll()
    vox = app.session.tracks[0]
    assert vox.name == "lead" and [t.name for t in view.takes] == ["take001", "take002", "take003"]
    assert vox.source.path.name == "lead-take002-dry.wav" and vox.source.path.exists()
    assert not list(folder.glob("vox-*"))
    app.undo()  # one step: the name and the files
    view.poll()
    assert app.session.tracks[0].name == "vox" and vox.source.path.name == "vox-take002-dry.wav"
    assert [t.dry.name for t in view.takes] == ["vox-take001-dry.wav", "vox-take002-dry.wav", "vox-take003-dry.wav"]


def test_while_recording_rename_and_delete_are_off_and_refused(window):
    app, view, _ = window

    class Recording:  # the engine's stats as the running engine reports them while recording
        alive = True

        @staticmethod
        def stats() -> dict:
            return {"recording": True}

    app.engine = Recording()
    view.poll()
    assert not dpg.get_item_configuration(view.rows[1]["delete"])["enabled"]
    assert not dpg.get_item_configuration(view.rows[1]["name"])["enabled"]
    view.delete(view.takes[0])
    assert "stop recording first" in view.status_text and view.takes[0].dry.exists()
    app.engine = None


def test_a_take_recorded_from_the_window_under_jack_is_listed_and_one_click_makes_the_track_play_it(
        jack_server, tmp_path):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("vox", None, input=(0,), armed=True).chain.add("Gain", gain_db=-6.0)
    save_session(session, tmp_path / "song.json")
    signal = program_signal(2, 1.5, seed=4)
    with built_window(tmp_path / "song.json") as app:
        app.restart_engine()
        until(app, lambda: app.engine is not None, "the engine to start")
        view = app.open_takes(0)
        assert view.takes == []
        with Player("singer", signal) as player:
            disconnect_system("PortAudio")
            for src, dst in zip(player.outputs, find_ports("PortAudio", is_input=True)):
                jack_server.connect(src, dst)
            click(app.record_button)
            until(app, lambda: app.engine.stats()["recording"], "recording to start")
            view.refresh(force=True)
            assert not dpg.get_item_configuration(view.rows[1]["delete"])["enabled"]  # the take being written
            player.play(wait=True, timeout=15)
        app.stop()
        until(app, lambda: not app.engine.stats()["recording"], "the take to be finalized")
        until(app, lambda: view.poll() and [t.name for t in view.takes] == ["take001"]
              and dpg.get_item_configuration(view.rows[1]["delete"])["enabled"], "the take in the list")
        steps = len(app.session.history.labels()[0])
        click(view.rows[1]["use"])
        vox = app.session.tracks[0]
        assert vox.source.path.name == "vox-take001-dry.wav" and vox.input == ()
        recorded, _ = sf.read(vox.source.path, dtype="float32", always_2d=True)
        assert np.abs(recorded).max() > 0.1
        if not player.xruns:  # an xrun on this shared machine loses a block: the take is then not bit-exact
            _, aligned = align(signal[:1], recorded.T)
            np.testing.assert_allclose(aligned, signal[:1], atol=2 ** -23)  # the singer, to the last bit kept
        out = render(app.session, tail=False).audio[:, : recorded.shape[0]]
        left, right = strip_gains(0.0, 0.0, 1)
        np.testing.assert_allclose(out, np.vstack([recorded[:, 0] * left, recorded[:, 0] * right]) * 10 ** (-6 / 20),
                                   atol=1e-6)  # what the track plays now: the take through its chain
        assert len(app.session.history.labels()[0]) == steps + 1
        app.session.undo()
        assert vox.input == (0,) and vox.source is None  # one undo step puts the input back
