"""Open the real rack window on a session with a split, open a branch plug-in's parameter panel from the split
window, right-click its threshold > Automate and click a point into the lane, all with xdotool; print the envelope
and the undo steps as JSON.

Run under Xvfb by tests/test_gui_split_automation.py in a process of its own. argv: the session file.
"""

from __future__ import annotations

import json
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.chain.automation import SlotTarget, find


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-split-lane")
    app = real.app
    out: dict = {}

    track = app.session.tracks[0]
    comp = track.chain[1].branches[0].chain[0]
    target = SlotTarget(comp, "threshold_db")

    def points() -> list | None:
        envelope = find(track, target)
        return None if envelope is None else [[round(p.time, 3), round(p.value, 1)] for p in envelope.points]

    real.click(app.strips[0].slot_buttons[1])  # the split's name: its window
    real.settle()
    split_panel = app.split_panels[-1]
    real.click(split_panel.branches[0].names[0])  # the Compressor's name: its parameter panel
    real.settle()
    panel = app.panels[-1]
    out["panel"] = [panel.slot.name, list(panel.index)]
    dpg.focus_item(panel.window)
    real.frames(4)
    control = panel.controls["threshold_db"]
    real.right_click(control)
    menu = panel.menus["threshold_db"]
    out["menu"] = [dpg.get_item_label(item) for item in dpg.get_item_children(menu, 1)]
    out["menu_shown"] = dpg.is_item_shown(menu)
    real.click_first_menu_row(menu)  # Automate
    out["opened"] = points()
    out["lanes"] = [dpg.get_value(lane.title) for lane in app.lanes if lane.alive]
    lane = app.lanes[-1]
    # The panel and split windows may cover the lane: out of the way, so the click lands on the lane's canvas.
    dpg.configure_item(panel.window, show=False)
    dpg.configure_item(split_panel.window, show=False)
    real.frames(6)
    real.move_to(lane.canvas, lane.x_of(2.0), lane.y_of(-40.0))
    real.xdo("click", "1")
    out["added"] = points()
    out["history"] = app.session.history.labels()[0][-2:]
    out["amber"] = bool(dpg.get_item_theme(control))
    real.xdo("key", "--window", real.window, "ctrl+z")
    out["undone"] = points()
    real.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
