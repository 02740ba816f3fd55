"""Open the real rack window on a session and click it with xdotool; print what the clicks changed as JSON.

Run under Xvfb by tests/test_gui.py, in a process of its own (Dear PyGui's
viewport cannot be made twice in one process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg

from gui_window import RealWindow


def main(session_path: str) -> None:
    real = RealWindow(session_path, "rackhost-real-clicks")
    app = real.app

    def click(item: int) -> None:
        real.click(item)
        real.settle()

    click(app.strips[0].mute)
    click(app.strips[1].slots[0])  # untick: bypass
    click(app.strips[0].slot_buttons[0])  # opens the parameter panel
    panels = [p.slot.name for p in app.panels if p.alive]
    click(app.strips[0].add_slot)  # opens the plug-in browser ...
    browser = app.browser
    dpg.set_value(browser.search, "Gain")
    browser.filter()
    real.frames(3)
    click(dpg.get_item_children(browser.rows["Built-in effects/Gain"], 1)[0])  # ... a click on "Gain" adds it
    session = app.session
    chain = [s.name for s in session.tracks[0].chain]
    history = session.history.labels()[0]
    subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+z"], check=True)  # undo from the keyboard
    real.frames(8)
    print(json.dumps({
        "mute": session.tracks[0].mute,
        "bypass": session.tracks[1].chain[0].bypass,
        "panels": panels,
        "chain": chain,
        "history": history,
        "chain_after_ctrl_z": [s.name for s in session.tracks[0].chain],
    }))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1])
