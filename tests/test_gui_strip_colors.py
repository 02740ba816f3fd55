"""A strip's colour set from its menu with real clicks (xdotool) in the real window under Xvfb: the session,
its file, the timeline's overview and Ctrl+Z all follow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SR, program_signal

from rackhost.chain import Session
from rackhost.chain.colors import PALETTE, default_color
from rackhost.presets import save_session

WINDOW = r"""
import json, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from rackhost.presets import load_session, save_session

session_path, saved = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-colours", width=1280, height=720)
app = real.app
out = {"before": app.session.tracks[1].color}
band = app.strips[1].band
x, y = dpg.get_item_rect_min(band)
w, h = dpg.get_item_rect_size(band)
subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + w / 2)), str(int(y + h / 2)),
                "click", "3"], check=True)  # right-click: the strip's menu
real.frames(6)
out["menu_shown"] = dpg.is_item_shown(app.strips[1].color_menu)
real.click(app.strips[1].swatches["#e66464"])  # red
real.frames(4)
out["after"] = app.session.tracks[1].color
out["band_theme_red"] = dpg.get_item_theme(app.strips[1].band) is not None
out["history"] = app.session.history.labels()[0][-1]
out["legend"] = [[name, list(color)] for name, color in app.timeline.legend]
save_session(app.session, saved)
out["saved"] = load_session(saved).tracks[1].color
subprocess.run(["xdotool", "mousemove", "--window", real.window, "640", "40"], check=True)
real.frames(2)
subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+z"], check=True)
real.frames(8)
out["undone"] = app.session.tracks[1].color
app.close()
print(json.dumps(out))
real.close()
"""


def test_a_colour_picked_from_the_strips_menu_is_saved_shown_in_the_overview_and_undone(tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("kick", wav_file(program_signal(2, 1.0), "kick.wav"))
    session.add_track("bass", wav_file(program_signal(2, 1.0, seed=3), "bass.wav"))
    save_session(session, tmp_path / "colours.json")
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "colours.json"), str(tmp_path / "saved.json")],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["before"] == default_color(1) != "#e66464"
    assert out["menu_shown"] is True
    assert out["after"] == out["saved"] == "#e66464" and dict(PALETTE)["red"] == "#e66464"
    assert out["history"] == "colour of bass"
    assert out["legend"] == [["kick", [0x56, 0x9c, 0xd6]], ["bass", [0xe6, 0x64, 0x64]]]
    assert out["undone"] == default_color(1)
