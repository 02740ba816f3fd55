"""Screenshot of an automation lane: ``python lane_screenshot.py SESSION OUT.png`` (under Xvfb, no engine).

The first track's fader lane opens with a ride drawn (down, a smooth rise, a step), the loop range set and
the playhead placed, as a user would see it while playing."""

from __future__ import annotations

import sys

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import StripTarget
from rackhost.gui import app as gui


def _lane(app: gui.RackApp) -> None:
    lane = app.open_lane(0, StripTarget("gain_db"))
    for seconds, db in ((1.0, -6.0), (1.6, -24.0), (2.6, -10.0), (3.2, -30.0)):
        lane.add(seconds, db)
    lane.selected = 2
    lane.set_shape("smooth")
    lane.selected = 3
    lane.set_shape("step")
    dpg.set_value(app.loop_range, [1.0, 3.0])
    lane.playhead = 2.2
    dpg.set_item_pos(lane.window, (420, 520))


if __name__ == "__main__":
    gui.VIEWS["lane"] = _lane
    gui.run(sys.argv[1], screenshot=sys.argv[2], frames=30, start_engine=False, width=1920, height=1080,
            view="lane")
