"""Open the real rack window on a session with a split, edit its branches with real clicks (xdotool), write a
screenshot of the split window and print what changed as JSON.

Run under Xvfb by tests/test_split_window.py, in a process of its own (Dear PyGui's viewport cannot be made twice
in one process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow


def _branches(split) -> list[dict]:
    return [{"level_db": b.level_db, "plugins": [s.name for s in b.chain], "bypassed": [s.bypass for s in b.chain]}
            for b in split.branches]


def main(session_path: str, shot: str) -> None:
    real = RealWindow(session_path, "rackhost-split-clicks")
    app = real.app

    def click(item: int) -> None:
        real.click(item)
        real.settle()

    click(app.strips[0].slot_buttons[1])  # the split's name: its window opens
    panel = app.split_panels[-1]
    opened = {"panels": len(app.split_panels), "rows": [len(rows.names) for rows in panel.branches]}
    click(panel.add_branch)
    click(panel.branches[2].add_plugin)  # the new (dry) branch's + plug-in: the browser
    browser = app.browser
    browser.filter("Gain")
    real.frames(4)
    row = next(item for key, item in browser.rows.items() if key.endswith("/Gain"))
    click(dpg.get_item_children(row, 1)[0])  # pick Gain in the list: it loads on the plug-in thread
    click(panel.branches[0].bypass[0])  # untick the Compressor: bypassed
    click(panel.branches[1].remove)  # the old dry branch goes
    click(panel.branches[1].names[0])  # the Gain's name: its parameter panel
    split = app.session.tracks[0].chain[1]
    result = {
        "opened": opened,
        "branches": _branches(split),
        "parameter_panel": [p.slot.name for p in app.panels if p.alive],
        "panel_index": list(app.panels[-1].index),
        "history": app.session.history.labels()[0],
    }
    dpg.focus_item(panel.window)  # the split window in front for the picture
    real.frames(4)
    dpg.output_frame_buffer(file=shot)
    real.frames(4)
    dpg.focus_item(app.window)
    real.frames(2)
    subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+z"], check=True)  # undo from the keyboard
    real.frames(8)
    result["after_ctrl_z"] = _branches(app.session.tracks[0].chain[1])
    result["rows_after_ctrl_z"] = [len(rows.names) for rows in app.split_panels[-1].branches]
    # A double-click on a branch's level puts it at 0 dB, and leaves no field open for typing.
    level = app.split_panels[-1].branches[0].level
    x, y = dpg.get_item_rect_min(level)
    w, h = dpg.get_item_rect_size(level)
    subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + w / 2)), str(int(y + h / 2)),
                    "click", "--repeat", "2", "--delay", "60", "1"], check=True)
    real.frames(8)
    subprocess.run(["xdotool", "mousemove", "--window", real.window, "5", "5"], check=True)  # away from it
    real.frames(4)
    result["after_double_click"] = {"level_db": app.session.tracks[0].chain[1].branches[0].level_db,
                                    "typing": dpg.is_item_active(level), "shown": dpg.get_value(level)}
    print(json.dumps(result))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
