"""Open the real rack window on a session at the screen's size, wide strips then View > Narrow strips, and print
as JSON where each strip's fader starts and where its switches end; a screenshot of each view into SHOTS.

``python gui_fader_tops.py SESSION SHOTS WxH``, under Xvfb, in a process of its own (run by
tests/test_gui_fader_tops.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
from gui_window import RealWindow


def bottom(item: int) -> float:
    return dpg.get_item_rect_min(item)[1] + dpg.get_item_rect_size(item)[1]


def main(session_path: str, shots: str, size: str) -> None:
    width, height = (int(n) for n in size.split("x"))
    real = RealWindow(session_path, "rackhost-fader-tops", width=width, height=height)
    app = real.app
    out: dict[str, dict] = {}
    for view in ("wide", "narrow"):
        app.set_narrow(view == "narrow")
        real.settle()
        real.frames(3)
        dpg.output_frame_buffer(file=str(Path(shots) / f"fader-tops-{view}-{size}.png"))
        real.frames(3)
        strips = (*app.strips, *app.bus_strips, app.master)
        # A drawlist reports no rectangle: the fader's top is its readout's top less the fader's height.
        tops = {("master" if s.is_master else s.owner.name): dpg.get_item_rect_min(s.gain_text)[1] - s.fader.height
                for s in strips}
        out[view] = {
            "tops": tops,
            "zero_db": {name: tops[name] + s.fader.y_of(0.0) for name, s in zip(tops, strips)},
            "bottoms": {name: tops[name] + s.fader.height for name, s in zip(tops, strips)},
            "rack_scrolls": dpg.get_x_scroll_max(app.rack_area) > 0,
            # The audition row is the last row above the console: it must end above the fader (not cut off).
            "switches_end": {("master" if s.is_master else s.owner.name): bottom(s.delta) for s in strips},
            "loudness_end": bottom(app.master.loudness.values["true_peak_db"]),
        }
    print(json.dumps(out))
    real.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
