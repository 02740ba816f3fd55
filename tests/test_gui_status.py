"""The status line of the real rack window at 1280 px: a long message wraps to two lines inside the window,
is cut with "..", as every cut text in the window is (rackhost.gui.text), and shows whole in a tooltip when the
mouse is over it. The window runs under Xvfb in a process of its own (Dear PyGui's viewport cannot be made twice
in one process); the mouse is xdotool's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SR, program_signal
from rackhost.chain import Session
from rackhost.presets import save_session

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"  # kept, to be looked at
LINE = 13  # the built-in font's line height, in pixels
LONG = ("could not load plug-in '/usr/lib/vst3/ZamVerb.vst3': it failed its probe in a child process (crashed "
        "with SIGSEGV after 12.3 s while loading its factory); retry it with 'rackhost plugins --retry ZamVerb' "
        "after updating it, or remove it from the plug-in folders; the slot is kept bypassed so nothing in the mix "
        "changes until then, and the session can still be saved and rendered without it. END-OF-MESSAGE")
MEDIUM = "scan: " + "words " * 34 + "END"  # longer than one line at 1280 px, shorter than two

WINDOW = r"""
import json, os, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow

session_path, shots, long_message, medium_message = sys.argv[1:5]
real = RealWindow(session_path, "rackhost-status")
app = real.app
out = {"viewport": dpg.get_viewport_client_width()}


def status(message, error):
    app.tell(message, error=error)
    real.frames(4)
    x, y = dpg.get_item_rect_min(app.status)
    w, h = dpg.get_item_rect_size(app.status)
    return {"shown": dpg.get_value(app.status), "left": x, "right": x + w, "height": h, "top": y}


out["long"] = status(long_message, True)
dpg.output_frame_buffer(file=os.path.join(shots, "status-long-message.png"))
real.frames(3)
x, y = dpg.get_item_rect_min(app.status)
subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + 300)), str(int(y + 6))], check=True)
real.frames(8)
line = getattr(app, "status_line", None)  # a window without one has no tooltip: the test says so, not a crash
tooltip = dpg.get_item_children(line.tooltip, 1)[0] if line else None
out["tooltip_text"] = dpg.get_value(tooltip) if line else None
out["tooltip_visible"] = dpg.is_item_visible(tooltip) if line else False
dpg.output_frame_buffer(file=os.path.join(shots, "status-long-message-tooltip.png"))
real.frames(3)
subprocess.run(["xdotool", "mousemove", "--window", real.window, "600", "300"], check=True)
out["medium"] = status(medium_message, False)
out["short"] = status("saved song.json", False)
real.frames(4)
out["short_tooltip_visible"] = dpg.is_item_shown(line.tooltip) if line else False
print(json.dumps(out))
real.close()
"""


def test_a_long_status_message_wraps_to_two_lines_in_the_window_with_the_whole_text_in_a_tooltip(tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("vox", wav_file(program_signal(2, 0.5), "vox.wav")).chain.add("Gain")
    save_session(session, tmp_path / "song.json")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "song.json"), str(SCREENSHOTS), LONG, MEDIUM],
                         capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["viewport"] == 1280

    long = out["long"]
    assert long["right"] <= out["viewport"] - long["left"]  # inside the window: nothing runs off its right edge
    assert LINE < long["height"] <= 2 * LINE  # wrapped, and two lines at most
    assert long["top"] + long["height"] <= 720  # and the two lines are on the screen
    # Cut as every text in the window is ("..": rackhost.gui.text), not with a third dot of its own.
    assert long["shown"].endswith("..") and not long["shown"].endswith("...") and "END-OF-MESSAGE" not in long["shown"]
    assert LONG.startswith(long["shown"].removesuffix(".."))
    assert len(long["shown"]) > 300  # cut at the end of the second line, not at the first
    assert out["tooltip_text"] == LONG and out["tooltip_visible"]  # the whole message, shown on hover

    medium = out["medium"]
    assert medium["shown"] == MEDIUM and medium["height"] == 2 * LINE  # wrapped whole, no cut
    assert medium["right"] <= out["viewport"] - medium["left"]

    short = out["short"]
    assert short["shown"] == "saved song.json" and short["height"] == LINE
    assert not out["short_tooltip_visible"]  # nothing more to show
