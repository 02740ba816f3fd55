"""Keys in the window: the key selector in a bus or master slot's parameter panel, the key on the strip, the
editor's refusals in the status line, undo; the engine under JACK ducks the bus once keyed; a real window under
Xvfb takes real clicks.

Runs in the Makefile's minihost pytest process: choosing a key loads the slot's keyed twin through minihost.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR
from gui_driver import built_window, click, document, steps, until

from rackhost.chain import Session
from rackhost.gui.parameter_panel import NO_KEY
from rackhost.live.commands import BusRow
from rackhost.presets import load_session, save_session

# Over the threshold by the voice (-6 dBFS) but not by the music (about -30 dBFS): unkeyed, the bus is left alone.
DUCK = {"threshold_db": -24.0, "ratio": 20.0, "attack_ms": 1.0, "release_ms": 50.0, "knee_db": 0.0}
SECONDS = 12.0  # long enough for the engine test to hear the bus before and after the key


def _music(seconds: float = SECONDS) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (0.03 * rng.standard_normal((2, int(SR * seconds)))).astype(np.float32)  # about -30 dBFS: over threshold


def _voice(seconds: float = SECONDS) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * 220 * t))[np.newaxis].astype(np.float32)  # talks all the time


@pytest.fixture
def keyed_file(tmp_path, wav_file) -> Path:
    """Music into a bus with ZamCompX2 (not keyed yet) that also sends to an fx bus; a voice heard only as a key
    (its fader all the way down: a pre-fader key still hears it)."""
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("music", wav_file(_music(), "music.wav"), output="music bus")
    session.add_track("voice", wav_file(_voice(), "voice.wav"), gain_db=-120.0)
    bus = session.add_bus("music bus")
    bus.chain.add("ZamCompX2", **DUCK)
    bus.add_send("fx", -12.0)
    session.add_bus("fx").chain.add("MVerb", mix=100.0)
    path = tmp_path / "keyed.json"
    save_session(session, path)
    return path


@pytest.fixture
def app(keyed_file):
    with built_window(keyed_file) as rack:
        yield rack


MUSIC_BUS = BusRow(0)


def test_a_bus_slot_panel_keys_it_from_any_track_or_other_bus_each_choice_one_undo_step(app):
    before = document(app)
    panel = app.open_panel(MUSIC_BUS, 0)
    slot = app.session.bus("music bus").chain[0]
    assert dpg.get_item_configuration(panel.key)["items"] == [NO_KEY, "music", "voice", "fx"]  # not itself
    assert dpg.get_value(panel.key) == NO_KEY and dpg.get_item_label(panel.key_tap) == "post"
    click(panel.key, "voice")
    assert (slot.key.source, slot.key.pre_fader) == ("voice", False)
    assert dpg.get_value(app.bus_strips[0].key_labels[0]) == "key: voice"  # the strip shows it
    panel = app.open_panel(MUSIC_BUS, 0)
    click(panel.key_tap)  # post -> pre: an edit of the key
    assert slot.key.pre_fader and dpg.get_item_label(panel.key_tap) == "pre"
    assert dpg.get_value(app.bus_strips[0].key_labels[0]) == "key: voice (pre)"
    click(panel.key, NO_KEY)
    assert slot.key is None and 0 not in app.bus_strips[0].key_labels
    assert app.session.history.labels()[0][-3:] == ["key ZamCompX2 from voice post-fader",
                                                    "key ZamCompX2 from voice pre-fader", "clear the key of ZamCompX2"]
    app.undo()
    assert slot.key.source == "voice" and dpg.get_value(panel.key) == "voice"  # the open panel follows undo
    app.undo()
    app.undo()
    assert document(app) == before


def test_with_no_key_yet_post_pre_sets_where_the_next_key_is_taken_and_records_nothing(app):
    panel = app.open_panel(MUSIC_BUS, 0)
    taken = steps(app)
    click(panel.key_tap)
    assert dpg.get_item_label(panel.key_tap) == "pre" and steps(app) == taken
    click(panel.key, "voice")
    assert app.session.bus("music bus").chain[0].key.pre_fader


def test_a_key_that_closes_a_loop_is_refused_in_the_status_line_and_nothing_changes(app):
    before, taken = document(app), steps(app)
    panel = app.open_panel(MUSIC_BUS, 0)
    click(panel.key, "fx")  # the music bus sends to fx: fx cannot also key it
    assert app.messages[-1].startswith("routing loop: ") and "music bus" in app.messages[-1]
    assert dpg.get_value(app.status) == app.messages[-1]
    assert document(app) == before and steps(app) == taken
    assert dpg.get_value(app.open_panel(MUSIC_BUS, 0).key) == NO_KEY  # the selector shows what the slot kept


def test_a_plugin_without_a_key_input_is_refused_naming_those_that_can(app):
    before = document(app)
    panel = app.open_panel(BusRow(1), 0)  # fx: MVerb
    click(panel.key, "voice")
    assert "MVerb cannot take a key" in app.messages[-1] and "ZamCompX2" in app.messages[-1]
    assert document(app) == before and dpg.get_value(app.open_panel(BusRow(1), 0).key) == NO_KEY


def test_a_track_slot_offers_the_other_tracks_as_keys_and_is_keyed_in_one_undo_step(app):
    app.add_plugin(0, "ZamCompX2")  # what the browser does when a plug-in is picked
    panel = app.open_panel(0, 0)
    assert dpg.get_item_configuration(panel.key)["items"] == [NO_KEY, "voice", "music bus", "fx"]
    taken = steps(app)
    click(panel.key, "voice")
    assert app.session.tracks[0].chain[0].key.source == "voice" and steps(app) == taken + 1
    assert dpg.get_value(app.strips[0].key_labels[0]) == "key: voice"
    app.undo()
    assert app.session.tracks[0].chain[0].key is None
    app.set_key(0, 0, "music bus")  # the music track feeds the music bus: a loop, said, nothing changes
    assert app.messages[-1].startswith("routing loop: music -> music bus -(key)-> music")
    assert app.session.tracks[0].chain[0].key is None


def test_a_keyed_slot_opens_with_its_key_shown_on_strip_and_panel(tmp_path, app):
    app.set_key(MUSIC_BUS, 0, "voice", pre_fader=True)
    path = tmp_path / "saved.json"
    save_session(app.session, path)
    app.use_session(load_session(path), path)
    assert dpg.get_value(app.bus_strips[0].key_labels[0]) == "key: voice (pre)"
    panel = app.open_panel(MUSIC_BUS, 0)
    assert dpg.get_value(panel.key) == "voice" and dpg.get_item_label(panel.key_tap) == "pre"


def test_the_engine_ducks_the_bus_once_the_panel_keys_it(jack_server, app):
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    app.play()

    def bus_rms() -> float:
        stats = app.engine.stats()
        return float(app.engine.meters()[int(stats["strips"]), 0, 1]) if stats.get("busses") == 2 else 0.0

    until(app, lambda: bus_rms() > 0.02, "the music bus to sound unducked (the voice keys nothing yet)")
    free = bus_rms()
    panel = app.open_panel(MUSIC_BUS, 0)
    click(panel.key_tap)  # pre-fader: the voice's fader is down, its key still at full level
    click(panel.key, "voice")  # the engine resyncs on the key
    until(app, lambda: 0.0 < bus_rms() < free / 4, "the keyed bus to duck under the voice by 12 dB or more")
    app.undo()
    until(app, lambda: bus_rms() > free / 2, "undo to let the music back up")


def test_real_clicks_open_the_panel_and_key_the_bus_in_a_window_under_xvfb(keyed_file):
    assert shutil.which("xdotool"), "make setup installs xdotool"
    script = Path(__file__).parent / "gui_key_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(keyed_file)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["key"] == {"source": "voice", "pre_fader": True}
    assert result["strip"] == "key: voice (pre)"
    assert result["history"][-2:] == ["key ZamCompX2 from voice pre-fader", "key ZamCompX2 from voice post-fader"]
    assert result["after_ctrl_z"] == {"source": "voice", "pre_fader": True}
