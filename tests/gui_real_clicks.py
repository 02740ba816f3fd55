"""Open the real rack window on a session and click it with xdotool; print what the clicks changed as JSON.

Run under Xvfb by tests/test_gui.py, in a process of its own (Dear PyGui's
viewport cannot be made twice in one process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from rackhost.chain import Session
from rackhost.gui.app import RackApp
from rackhost.gui.loader import PluginLoader


def main(session_path: str) -> None:
    loader = PluginLoader()  # the real plug-in thread, as the app runs it
    app = RackApp(Session(), None, start_engine=False, loader=loader)
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    dpg.create_viewport(title="rackhost-real-clicks", width=1280, height=720, x_pos=0, y_pos=0)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()

    def frames(count: int) -> None:
        for _ in range(count):
            app.frame()
            dpg.render_dearpygui_frame()
            dpg.run_callbacks(dpg.get_callback_queue())

    def settle() -> None:
        while app.files.loading or loader.pending:
            frames(1)
            time.sleep(0.02)
        frames(4)

    app.files.open(Path(session_path))
    settle()
    window = subprocess.check_output(["xdotool", "search", "--name", "rackhost-real-clicks"], text=True).split()[0]

    def real_click(item: int) -> None:
        x, y = dpg.get_item_rect_min(item)
        w, h = dpg.get_item_rect_size(item)
        subprocess.run(["xdotool", "mousemove", "--window", window, str(int(x + w / 2)), str(int(y + h / 2)),
                        "click", "1"], check=True)
        frames(6)
        settle()

    real_click(app.strips[0].mute)
    real_click(app.strips[1].slots[0])  # untick: bypass
    real_click(app.strips[0].slot_buttons[0])  # opens the parameter panel
    panels = [p.slot.name for p in app.panels if p.alive]
    real_click(app.strips[0].add_slot)  # opens the plug-in browser ...
    browser = app.browser
    dpg.set_value(browser.search, "Gain")
    browser.filter()
    frames(3)
    gain_row = browser.rows["Built-in effects/Gain"]
    real_click(dpg.get_item_children(gain_row, 1)[0])  # ... and a click on "Gain" loads it into the chain
    session = app.session
    chain = [s.name for s in session.tracks[0].chain]
    history = session.history.labels()[0]
    subprocess.run(["xdotool", "key", "--window", window, "ctrl+z"], check=True)  # undo from the keyboard
    frames(8)
    print(json.dumps({
        "mute": session.tracks[0].mute,
        "bypass": session.tracks[1].chain[0].bypass,
        "panels": panels,
        "chain": chain,
        "history": history,
        "chain_after_ctrl_z": [s.name for s in session.tracks[0].chain],
    }))
    loader.close()
    dpg.destroy_context()


if __name__ == "__main__":
    main(sys.argv[1])
