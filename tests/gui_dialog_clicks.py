"""Open the real rack window, drive the preset browser and the render dialog with xdotool; print the outcome as JSON.

Run under Xvfb by tests/test_gui_dialogs.py, in a process of its own (Dear
PyGui's viewport cannot be made twice in one process). The plug-in loader is
the real one, a thread of its own, as in ``rackhost gui``.
"""

from __future__ import annotations

import json
import sys

import dearpygui.dearpygui as dpg

from gui_window import RealWindow
from rackhost.gui.app import VIEWS


def main(session_path: str, output: str) -> None:
    real = RealWindow(session_path, "rackhost-dialog-clicks")
    app = real.app

    browser = VIEWS["presets"](app)
    real.frames(4)
    real.click(browser.search)
    real.type("drum-bus")
    listed = [e.ref for e in browser.entries]
    real.click(browser.rows[0][0])  # the preset's name in the list
    real.click(browser.load_button)
    real.settle(lambda: browser.task is not None)
    loaded = {"listed": listed, "status": browser.status_text, "chain": [s.name for s in app.session.tracks[0].chain]}
    browser.close()
    real.frames(4)

    dialog = VIEWS["render"](app)
    real.frames(4)
    dpg.set_value(dialog.path, output)
    real.click(dialog.render_button)
    real.settle(lambda: dialog.task is not None)
    print(json.dumps({"preset": loaded, "render_status": dialog.status_text, "report": dialog.report_text}))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
