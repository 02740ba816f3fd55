"""Open the real rack window on a routed session and click its routing with xdotool; print what changed as JSON.

Run under Xvfb by tests/test_gui_busses.py, in a process of its own (Dear PyGui's viewport cannot be made twice
in one process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-routing-clicks")
    app = real.app

    def click(item: int) -> None:
        real.click(item)
        real.settle()

    rack = dpg.get_item_parent(app.rack)  # the strips scroll sideways: bring the "+ bus" button into view
    dpg.set_x_scroll(rack, dpg.get_x_scroll_max(rack))
    real.frames(4)
    click(app.add_bus_button)
    dpg.set_x_scroll(rack, 0)
    real.frames(4)
    click(app.strips[1].routing.sends["reverb"].pre)  # pre -> post
    click(app.strips[1].routing.sends["reverb"].mute)
    click(app.bus_strips[1].mute)
    session = app.session
    send = session.tracks[1].send("reverb")
    result = {
        "busses": [b.name for b in session.busses],
        "vocal_send": {"pre_fader": send.pre_fader, "muted": send.muted},
        "bus_mute": session.bus("music").mute,
        "history": session.history.labels()[0],
    }
    subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+z"], check=True)  # undo from the keyboard
    real.frames(8)
    result["after_ctrl_z"] = {"bus_mute": session.bus("music").mute,
                              "send_muted": session.tracks[1].send("reverb").muted}
    print(json.dumps(result))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1])
