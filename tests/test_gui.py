"""The rack window: widgets drive the model through the editor (undo), and a real window renders under Xvfb."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest

from conftest import SR, program_signal
from gui_driver import click
from rackhost.chain import Session
from rackhost.gui.app import RackApp
from rackhost.gui.taper import FADER_FLOOR_DB, meter_deflection
from rackhost.presets import save_session


@pytest.fixture
def session_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 3.0), "drums.wav"))
    drums.chain.add("ZamCompX2", threshold_db=-20)
    drums.chain.add("Reverb").set_mix(0.3)
    session.add_track("vox", None, input=(0,)).chain.add("ZamComp")
    session.master.chain.add("ZaMaximX2")
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


@pytest.fixture
def built(session_file):
    """The widgets without a window: Dear PyGui builds them and runs callbacks without a display."""
    from rackhost.presets import load_session

    app = RackApp(load_session(session_file), session_file, start_engine=False)
    dpg.create_context()
    try:
        app.build()
        yield app
    finally:
        dpg.destroy_context()




def test_strip_controls_change_the_model_with_undo(built):
    drums = built.session.tracks[0]
    click(built.strips[0].mute, True)
    built.strips[0].fader.move_to(-6.0)  # what a drag of the fader ends with
    click(built.strips[0].slots[1], False)  # unticked: the Reverb slot is bypassed
    assert drums.mute and drums.gain_db == -6.0 and drums.chain[1].bypass
    built.undo()
    built.undo()
    built.undo()
    assert not drums.mute and drums.gain_db == 0.0 and not drums.chain[1].bypass
    assert len(built.strips) == 2 and built.master is not None  # rebuilt from the model after undo


def test_meters_show_the_engines_levels_peak_hold_and_a_latched_clip(built):
    row = np.array([[0.5, 0.2, 1.0, 0.0], [0.25, 0.1, 0.5, 1.0]], np.float32)
    meter = built.strips[0].meter
    built.strips[0].show_levels(row)
    top = meter.height - 1
    # The left bar reaches -6 dBFS on the IEC scale: its cover ends there; the hold line sits at 0 dBFS.
    cover = dpg.get_item_configuration(meter.covers[0])["pmax"][1]
    assert cover == pytest.approx((1 - meter_deflection(20 * np.log10(0.5))) * top, abs=0.01)
    assert dpg.get_item_configuration(meter.hold_lines[0])["p1"][1] == pytest.approx(0.0, abs=0.01)
    assert dpg.get_item_configuration(meter.hold_lines[1])["p1"][1] == pytest.approx(
        (1 - meter_deflection(20 * np.log10(0.5))) * top, abs=0.01)
    assert meter.clipped  # the right channel latched in the engine
    assert dpg.get_value(built.strips[0].readout) == "pk   0.0  rms -14.0 dBFS"  # peak hold, louder channel's RMS


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_rack_opens_in_a_real_window_with_the_engine_playing(jack_server, session_file, tmp_path):
    assert shutil.which("xvfb-run"), "make setup installs xvfb"
    shot = tmp_path / "rack.png"
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-m", "rackhost.cli", "gui",
         str(session_file), "--play", "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == (1280, 720)
    assert shot.stat().st_size > 20_000  # a rendered rack, not a blank frame


SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"  # kept, to be looked at


@pytest.mark.parametrize("name, with_session, view, size", [
    ("empty", False, None, "1280x720"),
    ("session", True, None, "1280x720"),
    ("parameter-panel", True, "panel", "1280x720"),
    ("plugin-browser", True, "browser", "1280x720"),
    ("session-1080p", True, None, "1920x1080"),
])
def test_screenshots_of_the_main_states(session_file, name, with_session, view, size):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    width, height = (int(v) for v in size.split("x"))
    command = [sys.executable, "-m", "rackhost.cli", "gui", "--no-engine", "--screenshot", str(shot), "--size", size]
    command += [str(session_file)] if with_session else []
    command += ["--view", view] if view else []
    run = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", *command],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == (width, height)
    assert shot.stat().st_size > 10_000


def test_without_a_display_the_gui_says_so():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    run = subprocess.run([sys.executable, "-m", "rackhost.cli", "gui"], capture_output=True, text=True, env=env)
    assert run.returncode == 2 and "no display" in run.stderr


def test_real_clicks_on_the_window_change_the_session(session_file):
    """xdotool clicks the real window (a mute box, a slot's bypass, a slot's name, a plug-in in the browser),
    then presses Ctrl+Z."""
    assert shutil.which("xdotool"), "make setup installs xdotool"
    script = Path(__file__).parent / "gui_real_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(session_file)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["mute"] is True
    assert result["bypass"] is True
    assert result["panels"] == ["ZamCompX2"]
    assert result["chain"] == ["ZamCompX2", "Reverb", "Gain"]
    assert result["history"] == ["mute drums", "bypass ZamComp", "add Gain"]
    assert result["chain_after_ctrl_z"] == ["ZamCompX2", "Reverb"]


def test_plugin_switches_are_checkboxes_and_selectors_lists_that_set_the_plugins_steps(built):
    # VST3 reports both as floats with a few steps (pedalboard: num_steps, valid_values).
    built.session.tracks[1].chain.add("ZamDelay")
    built.structure_changed()
    panel = built.open_panel(1, 1)
    kind = {name: dpg.get_item_type(item).split("::")[-1] for name, item in panel.controls.items()}
    assert kind["invert"] == kind["sync_bpm"] == "mvCheckbox"
    assert kind["divisor"] == "mvCombo" and kind["time_ms"] == "mvSliderFloat"
    assert dpg.get_item_configuration(panel.controls["divisor"])["items"] == ["1", "2", "3", "4", "5"]
    delay = built.session.tracks[1].chain[1].plugin
    click(panel.controls["divisor"], "4")
    click(panel.controls["invert"], True)
    assert delay.get("divisor") == 4.0 and delay.get("invert") == 1.0
    built.undo()
    built.undo()
    panel = built.panels[0]
    assert dpg.get_value(panel.controls["divisor"]) == "3" and dpg.get_value(panel.controls["invert"]) is False


def test_a_burst_of_wheel_notches_on_a_fader_is_one_undo_step_and_the_bottom_is_silence(built):
    strip, drums = built.strips[0], built.session.tracks[0]
    steps = len(built.session.history.labels()[0])
    for _ in range(3):
        strip.fader.wheel(1)
    strip.poll()  # the pointer is not over the fader (no display here): the burst ends
    assert drums.gain_db == 3.0 and len(built.session.history.labels()[0]) == steps + 1
    built.undo()
    assert drums.gain_db == 0.0
    strip = built.strips[0]
    strip.fader.move_to(-79.5)
    strip.fader.wheel(-1)
    strip.fader.wheel(-1)
    assert strip.fader.text == "-inf" and drums.gain_db == FADER_FLOOR_DB  # silence, as the engine reads it
    strip.fader.wheel(1)
    assert drums.gain_db == -80.0


def test_a_slot_dropped_on_another_strip_moves_there_in_one_undo_step_and_alt_drops_a_copy(built):
    drums, vox, master = built.session.tracks[0], built.session.tracks[1], built.session.master

    def names(owner) -> list[str]:
        return [s.name for s in owner.chain]

    reverb = drums.chain[1]
    built.drop_slot(0, 1, 0, 0)  # the Reverb dropped on the ZamCompX2: before it
    assert names(drums) == ["Reverb", "ZamCompX2"] and drums.chain[0] is reverb
    built.drop_slot(0, 0, None, None)  # onto the master's "+ plug-in": last there
    assert names(drums) == ["ZamCompX2"] and names(master) == ["ZaMaximX2", "Reverb"]
    assert master.chain[1] is reverb and built.session.history.labels()[0][-1] == "move Reverb to master"
    assert dpg.get_item_label(built.master.slot_buttons[1]) == "Reverb 30%"  # the strips show it
    built.drop_slot(0, 0, 1, 0, copy=True)  # Alt: a copy with its own instance, the settings kept
    assert names(vox) == ["ZamCompX2", "ZamComp"] and vox.chain[0].plugin is not drums.chain[0].plugin
    assert vox.chain[0].plugin.get("threshold_db") == drums.chain[0].plugin.get("threshold_db")
    for _ in range(3):
        built.undo()
    assert names(drums) == ["ZamCompX2", "Reverb"] and names(vox) == ["ZamComp"] and names(master) == ["ZaMaximX2"]


def test_a_tracks_grip_dropped_on_another_moves_the_track_there(built):
    built.drop_track(1, 0)  # vox's grip on drums': vox goes first
    assert [t.name for t in built.session.tracks] == ["vox", "drums"]
    assert [dpg.get_value(s.name) for s in built.strips] == ["vox", "drums"]
    built.drop_track(0, None)  # on "+ track": last
    assert [t.name for t in built.session.tracks] == ["drums", "vox"]
    built.undo()
    assert [t.name for t in built.session.tracks] == ["vox", "drums"]


def test_the_master_shows_loudness_as_numbers_and_bars_against_the_sessions_target(built):
    from rackhost.chain.master import LoudnessTarget
    from rackhost.gui.meter_view import GREEN, RED, YELLOW

    built.session.master.loudness_target = LoudnessTarget(-14.0, -1.0)
    built.structure_changed()
    view = built.master.loudness
    assert dpg.get_value(view.caption) == "target -14 LUFS, -1 dBTP"
    built.master.show_loudness({"lufs_m": -20.0, "lufs_s": -15.0, "lufs_i": -14.5, "true_peak_db": -0.5})
    assert view.text == "M -20.0  S -15.0  I -14.5  TP -0.5"
    assert dpg.get_item_configuration(view.bars["lufs_i"])["pmax"][0] == pytest.approx(view._x("lufs_i", -14.5))
    assert view.color("lufs_i", -14.5) == GREEN and view.color("lufs_i", -18.0) == YELLOW
    assert view.color("lufs_i", -12.0) == RED and view.color("true_peak_db", -0.5) == RED
    built.master.show_silence()  # no engine: no numbers, empty bars
    assert view.text == "M --  S --  I --  TP --"
    assert dpg.get_item_configuration(view.bars["lufs_m"])["pmax"][0] == 0
