"""Open the real rack window and work an automation lane with xdotool: right-click the fader > Automate,
click to add a point, drag it, right-click it away, select one and press Delete, Ctrl+Z; print the envelope
after each gesture as JSON.

Run under Xvfb by tests/test_gui_automation_lane.py in a process of its own. argv: the session file.
"""

from __future__ import annotations

import json
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.chain.automation import StripTarget, find


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-lane")
    app = real.app
    out: dict = {}

    def points() -> list:
        envelope = find(app.session.tracks[0], StripTarget("gain_db"))
        return None if envelope is None else [[round(p.time, 3), round(p.value, 1), p.shape]
                                              for p in envelope.points]

    strip = app.strips[0]
    real.right_click(strip.gain)
    menu = strip.menus["gain"]
    automate = dpg.get_item_children(menu, 1)[0]
    out["menu"] = dpg.get_item_label(automate)
    out["menu_shown"] = dpg.is_item_shown(menu)
    real.click_first_menu_row(menu)
    out["opened"] = points()
    lane = app.lanes[0]
    real.frames(6)
    canvas = lane.canvas
    real.move_to(canvas, lane.x_of(2.0), lane.y_of(-30.0))
    real.xdo("click", "1")
    out["added"] = points()
    real.move_to(canvas, lane.x_of(2.0), lane.y_of(-30.0))
    real.xdo("mousedown", "1")
    real.move_to(canvas, lane.x_of(2.5) - 2, lane.y_of(-30.0) - 8)
    real.move_to(canvas, lane.x_of(3.0), lane.y_of(-40.0))
    real.xdo("mouseup", "1")
    out["dragged"] = points()
    out["steps_after_drag"] = len(app.session.history.labels()[0])
    real.move_to(canvas, lane.x_of(3.0), lane.y_of(-40.0))
    real.xdo("click", "3")
    out["right_clicked"] = points()
    real.move_to(canvas, lane.x_of(1.0), lane.y_of(-20.0))
    real.xdo("click", "1")
    real.move_to(canvas, lane.x_of(1.0), lane.y_of(-20.0))
    real.xdo("click", "1")  # selects it (a click on a point grabs it, adds nothing)
    out["before_delete"] = points()
    real.xdo("key", "--window", real.window, "Delete")
    out["deleted"] = points()
    real.xdo("key", "--window", real.window, "ctrl+z")
    out["undone"] = points()
    out["automated_color"] = list(dpg.get_item_configuration(app.strips[0].gain_text)["color"])
    real.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
