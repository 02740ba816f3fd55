"""The real rack window, as a new user first meets it, measured: Space and Home with no audio engine, the
+ track and + bus buttons, a send's row, long names in the History list and the input selector; a screenshot
into the folder given. Prints what it found as JSON.

Run under Xvfb by tests/test_gui_first_run.py, in a process of its own (Dear PyGui's viewport cannot be made
twice in one process), with no JACK server and no sound card: the engine cannot start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import dearpygui.dearpygui as dpg
from gui_window import RealWindow


def rect(item: int) -> list[float]:
    x, y = dpg.get_item_rect_min(item)
    w, h = dpg.get_item_rect_size(item)
    return [x, y, w, h]


def main(session_path: str, shots: str) -> None:
    real = RealWindow(session_path, "rackhost-first-run")
    app = real.app
    out: dict = {}

    def key(name: str) -> str:
        """Press ``name`` in the window (the mouse over the rack, nothing typed into); the status line after."""
        subprocess.run(["xdotool", "mousemove", "--window", real.window, "640", "600"], check=True)
        subprocess.run(["xdotool", "key", "--window", real.window, name], check=True)
        real.frames(8)
        return dpg.get_value(app.status)

    # 1. No engine: opened without one (as --no-engine), then one that cannot start (no audio device).
    out["offline"] = {"space": key("space"), "home": key("Home")}
    app.want_engine = True
    app.restart_engine()
    deadline = time.monotonic() + 120
    while app.engine_state.startswith("starting") and time.monotonic() < deadline:
        real.frames(1)
        time.sleep(0.05)
    out["engine_state"] = app.engine_state
    out["failed"] = {"space": key("space"), "home": key("Home")}

    # 3. The + track and + bus buttons; 4. the send's row.
    out["add_track"] = {"label": dpg.get_item_label(app.add_track_button), "rect": rect(app.add_track_button),
                        "text": dpg.get_text_size(dpg.get_item_label(app.add_track_button))}
    out["add_bus"] = {"label": dpg.get_item_label(app.add_bus_button), "rect": rect(app.add_bus_button)}
    row = app.strips[0].routing.sends["reverb"]
    out["send"] = {"slider": rect(row.level), "format": dpg.get_item_configuration(row.level)["format"],
                   "value": rect(row.value), "value_text": dpg.get_value(row.value), "name": dpg.get_value(row.name)}
    # 2. The input selector's file name, and a long History step.
    out["input"] = {"shown": dpg.get_value(app.strips[0].input), "rect": rect(app.strips[0].input),
                    "items": dpg.get_item_configuration(app.strips[0].input)["items"]}
    app.rename_track(1, "a drum room microphone pair, far")
    real.frames(6)
    out["history"] = {"items": dpg.get_item_configuration(app.history_view.listbox)["items"],
                      "rect": rect(app.history_view.listbox),
                      "tooltip": dpg.get_value(app.history_view.tooltip_text)}
    dpg.output_frame_buffer(file=os.path.join(shots, "first-run.png"))
    real.frames(4)
    # A click on the cut History entry still goes to its step.
    dpg.get_item_callback(app.history_view.listbox)(app.history_view.listbox, out["history"]["items"][0])
    out["after_click"] = [t.name for t in app.session.tracks]
    print(json.dumps(out))
    real.close()


if __name__ == "__main__":  # the engine starts in a spawned process, which imports this file
    main(*sys.argv[1:3])
