"""Open the window with rackhost.gui.app.run (no session, no engine), optionally move it as a user would,
then quit it as File > Quit does (the loop ends, run() closes the window); print where it opened and what was remembered, as JSON.

Run under Xvfb by tests/test_gui_first_run.py, in a process of its own; RACKHOST_CONFIG_DIR is the test's.
"""

from __future__ import annotations

import json
import sys

import dearpygui.dearpygui as dpg

from rackhost.gui import app as gui
from rackhost.gui.placement import place_file

move_to = json.loads(sys.argv[1])  # [x, y, width, height] to move and size the window to before quitting, or null
size = json.loads(sys.argv[2])  # [w, h] as --size gives it, or null
out: dict = {}
frames = 0
original = gui.RackApp.frame


def frame(self: gui.RackApp) -> None:
    global frames
    original(self)
    frames += 1
    if frames == 5:
        out["opened"] = [*dpg.get_viewport_pos(), dpg.get_viewport_width(), dpg.get_viewport_height()]
        if move_to:
            dpg.set_viewport_pos(move_to[:2])
            dpg.set_viewport_width(move_to[2])
            dpg.set_viewport_height(move_to[3])
    if frames == 15:
        out["before_quit"] = [*dpg.get_viewport_pos(), dpg.get_viewport_width(), dpg.get_viewport_height()]
        dpg.stop_dearpygui()  # what File > Quit ends with


gui.RackApp.frame = frame
gui.run(None, start_engine=False, **({"width": size[0], "height": size[1]} if size else {}))
out["remembered"] = json.loads(place_file().read_text()) if place_file().exists() else None
print(json.dumps(out))
