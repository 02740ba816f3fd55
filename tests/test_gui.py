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
    click(built.strips[0].gain, -6.0)
    click(built.strips[0].slots[1], False)  # unticked: the Reverb slot is bypassed
    assert drums.mute and drums.gain_db == -6.0 and drums.chain[1].bypass
    built.undo()
    built.undo()
    built.undo()
    assert not drums.mute and drums.gain_db == 0.0 and not drums.chain[1].bypass
    assert len(built.strips) == 2 and built.master is not None  # rebuilt from the model after undo


def test_meters_show_the_engines_levels(built):
    row = np.array([[0.5, 0.2, 1.0, 0.0], [0.25, 0.1, 0.5, 1.0]], np.float32)
    built.strips[0].show_levels(row)
    assert dpg.get_value(built.strips[0].meters[0]) == pytest.approx((20 * np.log10(0.5) + 60) / 60)
    assert dpg.get_item_configuration(built.strips[0].meters[1])["overlay"] == "CLIP"
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
