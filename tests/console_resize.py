"""The demo console resized by the window system: ``python console_resize.py SESSION`` (under Xvfb at
2560x1440, no engine). The window opens at 1280x720 and is resized with xdotool to 2560x1440, 1920x1080 and
back; after each size, what one label (the first strip's level readout), a strip and a fader measure is
printed as JSON, with the scale the window draws at."""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.gui.scale import SCALE


def measure(real: RealWindow) -> dict:
    strip = real.app.strips[0]
    return {"viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()],
            "scale": SCALE.factor, "text": dpg.get_item_rect_size(strip.readout),
            "name": dpg.get_item_rect_size(strip.name), "strip": dpg.get_item_rect_size(strip.root)[0],
            "fader": strip.fader.height}


if __name__ == "__main__":
    real = RealWindow(sys.argv[1], "rackhost-resize", width=1280, height=720)
    sizes = {"1280x720": measure(real)}
    for size in ("2560x1440", "1920x1080", "1280x720"):
        width, height = size.split("x")
        subprocess.run(["xdotool", "windowsize", real.window, width, height], check=True)
        real.frames(12)  # the resize arrives, the strips are built again, then laid out
        sizes[size if size not in sizes else f"{size} again"] = measure(real)
    real.app.close()
    print(json.dumps(sizes))
    real.close()
