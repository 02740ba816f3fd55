"""Screenshot of the demo session as a console: ``python console_screenshot.py SESSION OUT.png WxH [VIEW]`` (under
Xvfb, no engine).

The demo's tracks, busses and sends, with the first track's fader lane open under the timeline (a ride
drawn), the loop range set and the playhead placed: what README shows at 1280x720, 1920x1080 and 2560x1440.
VIEW ``narrow``: View > Narrow strips instead of the lane (docs/narrow.png)."""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from lane_screenshot import _lane

from rackhost.gui import app as gui
from rackhost.gui.scale import SCALE

faders: dict[str, int] = {}  # each strip's fader height in the last frame drawn: printed at the end
text: dict[str, object] = {}  # the first strip's level readout (a known label): its size, and the scale
pointer: list[object] = []  # the pointer was moved out of the way
overview: dict[str, object] = {}  # the timeline's overview: a row per file, named at its left or not, its height
_frame = gui.RackApp.frame


def _measured_frame(app: gui.RackApp) -> None:
    _frame(app)
    if not pointer:  # once: the pointer to the window's bottom-left corner, where no control is hovered
        pointer.append(subprocess.run(["xdotool", "mousemove", "0", str(dpg.get_viewport_client_height() - 1)],
                                      check=True))
    for view in (*app.strips, *app.bus_strips, *([app.master] if app.master is not None else [])):
        faders[view.owner.name if view.track is not None else "master"] = view.fader.height
    if app.strips:
        text.update(readout=dpg.get_item_rect_size(app.strips[0].readout), scale=SCALE.factor)
    if app.timeline is not None:
        overview.update(rows=app.timeline.stacked, named_rows=app.timeline.named_rows,
                        height=app.timeline.overview_height)


if __name__ == "__main__":
    gui.VIEWS["lane"] = _lane
    gui.RackApp.frame = _measured_frame  # type: ignore[method-assign]
    width, height = (int(n) for n in sys.argv[3].split("x"))
    gui.run(sys.argv[1], screenshot=sys.argv[2], frames=30, start_engine=False, width=width, height=height,
            view=sys.argv[4] if len(sys.argv) > 4 else "lane", recover=False)
    print(json.dumps({"faders": faders, "text": text, "overview": overview}))
