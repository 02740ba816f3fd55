"""Open the real rack window on a session with a bus compressor, key it from a track with xdotool clicks (the slot
opens its panel, post -> pre, the key selector's list), undo from the keyboard; print what changed as JSON.

Run under Xvfb by tests/test_gui_keys.py, in a process of its own (Dear PyGui's viewport cannot be made twice in one
process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

ROW = 17  # a list entry: the font's 13 pixels and 4 of item spacing
POPUP_PADDING = 8


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-key-clicks")
    app = real.app

    def click(item: int) -> None:
        real.click(item)
        real.settle()

    click(app.bus_strips[0].slot_buttons[0])  # the music bus's ZamCompX2: its parameter panel opens
    panel = app.panels[-1]
    click(panel.key_tap)  # post -> pre, for the key about to be chosen
    click(panel.key)  # the list opens under the selector...
    entries = dpg.get_item_configuration(panel.key)["items"]
    x, _ = dpg.get_item_rect_min(panel.key)
    _, bottom = dpg.get_item_rect_max(panel.key)
    y = bottom + POPUP_PADDING // 2 + entries.index("voice") * ROW + ROW // 2
    subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + 40)), str(int(y)), "click", "1"],
                   check=True)  # ...and a click on "voice" picks it
    real.frames(6)
    real.settle()
    key = app.session.bus("music bus").chain[0].key
    result = {
        "key": None if key is None else {"source": key.source, "pre_fader": key.pre_fader},
        "strip": dpg.get_value(app.bus_strips[0].key_labels[0]) if 0 in app.bus_strips[0].key_labels else None,
        "history": app.session.history.labels()[0],
    }
    panel = app.panels[-1]  # the panel was redrawn by the edit: the same slot
    click(panel.key_tap)  # pre -> post on the key: one step...
    result["history"] = app.session.history.labels()[0]
    subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+z"], check=True)  # ...undone from the keyboard
    real.frames(8)
    key = app.session.bus("music bus").chain[0].key
    result["after_ctrl_z"] = None if key is None else {"source": key.source, "pre_fader": key.pre_fader}
    print(json.dumps(result))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1])
