"""Automating a plug-in inside a split from the window: its parameter panel, opened from the split window, offers
right-click > Automate as a slot's does; the lane's points play in the render and are undone one step each. In
process (as tests/test_gui_split.py), and with real clicks in a real window under Xvfb."""

from __future__ import annotations

import json
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR, program_signal
from gui_driver import window_output

from rackhost.chain import Session, render
from rackhost.chain.automation import SlotTarget, find
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import load_session, save_session

DRUMS = "Gain(gain_db=-1); [Compressor(threshold_db=-6, ratio=8, attack_ms=1) @ -6 | ]; Reverb"


@pytest.fixture
def session_file(tmp_path, wav_file) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 4.0), "drums.wav"))
    drums.chain = parse_chain(DRUMS)
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


def _automate_item(panel, name: str) -> int:
    menu = panel.menus[name]
    return next(item for item in dpg.get_item_children(menu, 1) if dpg.get_item_label(item) == "Automate")


def test_automate_in_a_branch_plugins_panel_opens_a_lane_whose_points_play_and_undo(app, session_file, tmp_path):
    track = app.session.tracks[0]
    comp = track.chain[1].branches[0].chain[0]
    app.open_split(0, 1)
    panel = app.open_panel(0, (1, 0, 0))  # as the split window's Compressor button opens it
    assert panel.in_split and panel.slot is comp
    before = render(app.session, tail=False).audio
    item = _automate_item(panel, "threshold_db")
    dpg.get_item_callback(item)(item, None, dpg.get_item_user_data(item))
    target = SlotTarget(comp, "threshold_db")
    envelope = find(track, target)
    assert envelope is not None and [(p.time, p.value) for p in envelope.points] == [(0.0, -6.0)]
    lane = app.lanes[-1]
    assert lane.target == target and dpg.get_value(lane.title) == "drums: Compressor.threshold_db"
    assert dpg.get_item_theme(panel.controls["threshold_db"])  # amber: automated
    np.testing.assert_array_equal(render(app.session, tail=False).audio, before)  # one point: as it was
    lane.add(2.0, -40.0)
    after = render(app.session, tail=False).audio
    half = slice(int(3.0 * SR), int(3.9 * SR))
    assert np.sqrt(np.mean(after[:, half] ** 2)) < 0.8 * np.sqrt(np.mean(before[:, half] ** 2))  # it compresses
    lane.poll(1.0, playing=True)
    assert dpg.get_value(panel.controls["threshold_db"]) == pytest.approx(-23.0, abs=0.01)  # moves with playback
    assert comp.plugin.get("threshold_db") == -6.0  # shown, not written
    save_session(app.session, tmp_path / "saved.json")
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert saved["tracks"][0]["automation"][0]["slot"] == [1, 0, 0]
    reloaded = load_session(tmp_path / "saved.json")
    np.testing.assert_array_equal(render(reloaded, tail=False).audio, after)
    app.undo()
    assert len(find(track, target).points) == 1
    app.undo()
    assert find(track, target) is None and not lane.alive
    np.testing.assert_array_equal(render(app.session, tail=False).audio, before)


def test_the_wet_dry_of_a_branch_plugin_is_automated_from_its_panel_too(app):
    track = app.session.tracks[0]
    panel = app.open_panel(0, (1, 0, 0))
    item = _automate_item(panel, "_mix")
    dpg.get_item_callback(item)(item, None, dpg.get_item_user_data(item))
    assert find(track, SlotTarget(track.chain[1].branches[0].chain[0], "_mix")) is not None


def test_real_clicks_automate_a_plugin_inside_a_split_from_its_panel_under_xvfb(session_file):
    out = window_output("gui_split_lane_clicks.py", session_file)
    assert out["panel"] == ["Compressor", [1, 0, 0]]
    assert out["menu"][0] == "Automate" and out["menu_shown"]
    assert out["opened"] == [[0.0, -6.0]]
    assert out["lanes"] == ["drums: Compressor.threshold_db"]
    assert out["added"][1][0] == 2.0 and out["added"][1][1] == pytest.approx(-40.0, abs=1.5)
    assert out["history"] == ["automate Compressor.threshold_db", "add a point to Compressor.threshold_db"]
    assert out["amber"]
    assert out["undone"] == [[0.0, -6.0]]
