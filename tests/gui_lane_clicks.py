"""Open the real rack window and work an automation lane with xdotool: right-click the fader > Automate,
click to add a point, drag it, right-click it away, select one and press Delete, Ctrl+Z; print the envelope
after each gesture as JSON.

Run under Xvfb by tests/test_gui_automation_lane.py in a process of its own. argv: the session file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.chain.automation import StripTarget, find


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-lane")
    app = real.app
    out: dict = {}

    def xdo(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True)
        real.frames(6)

    def to(item: int, x: float, y: float) -> None:
        left, top = dpg.get_item_rect_min(item)
        xdo("mousemove", "--window", real.window, str(int(left + x)), str(int(top + y)))

    def points() -> list:
        envelope = find(app.session.tracks[0], StripTarget("gain_db"))
        return None if envelope is None else [[round(p.time, 3), round(p.value, 1), p.shape]
                                              for p in envelope.points]

    strip = app.strips[0]
    w, h = dpg.get_item_rect_size(strip.gain)
    to(strip.gain, w / 2, h / 2)
    xdo("click", "3")
    menu = strip.menus["gain"]
    automate = dpg.get_item_children(menu, 1)[0]
    out["menu"] = dpg.get_item_label(automate)
    out["menu_shown"] = dpg.is_item_shown(menu)
    left, top = dpg.get_item_pos(menu)  # a menu item reports no rectangle: its row is the popup's first
    xdo("mousemove", "--window", real.window, str(int(left + 30)), str(int(top + 14)), "click", "1")
    out["opened"] = points()
    lane = app.lanes[0]
    real.frames(6)
    canvas = lane.canvas
    to(canvas, lane.x_of(2.0), lane.y_of(-30.0))
    xdo("click", "1")
    out["added"] = points()
    to(canvas, lane.x_of(2.0), lane.y_of(-30.0))
    xdo("mousedown", "1")
    to(canvas, lane.x_of(2.5) - 2, lane.y_of(-30.0) - 8)
    to(canvas, lane.x_of(3.0), lane.y_of(-40.0))
    xdo("mouseup", "1")
    out["dragged"] = points()
    out["steps_after_drag"] = len(app.session.history.labels()[0])
    to(canvas, lane.x_of(3.0), lane.y_of(-40.0))
    xdo("click", "3")
    out["right_clicked"] = points()
    to(canvas, lane.x_of(1.0), lane.y_of(-20.0))
    xdo("click", "1")
    to(canvas, lane.x_of(1.0), lane.y_of(-20.0))
    xdo("click", "1")  # selects it (a click on a point grabs it, adds nothing)
    out["before_delete"] = points()
    xdo("key", "--window", real.window, "Delete")
    out["deleted"] = points()
    xdo("key", "--window", real.window, "ctrl+z")
    out["undone"] = points()
    out["automated_color"] = list(dpg.get_item_configuration(app.strips[0].gain_text)["color"])
    real.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
