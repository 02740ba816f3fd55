"""Open the real rack window on a session with a split, drag plug-ins with the real mouse (xdotool: press, move
in steps, release, frames rendered between) between the split window's branches and the strip, write a
screenshot of the split window after the drops and print what changed as JSON.

Run under Xvfb by tests/test_split_window_drag.py, in a process of its own (Dear PyGui's viewport cannot be made
twice in one process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.chain import Split


def _names(chain) -> list:
    return [s.name if not isinstance(s, Split) else [[x.name for x in b.chain] for b in s.branches] for s in chain]


def _centre(item: int) -> tuple[int, int]:
    x, y = dpg.get_item_rect_min(item)
    w, h = dpg.get_item_rect_size(item)
    return int(x + w / 2), int(y + h / 2)


def main(session_path: str, shot: str) -> None:
    real = RealWindow(session_path, "rackhost-split-drag")
    app = real.app

    def mouse(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True)
        real.frames(3)

    def drag(source: int, target: int, during: str | None = None) -> None:
        """Press on ``source``, move to ``target`` in steps (past the drag threshold first), release there;
        ``during``: a screenshot just before the release (the payload's text, the target marked)."""
        (x0, y0), (x1, y1) = _centre(source), _centre(target)
        mouse("mousemove", "--window", real.window, str(x0), str(y0))
        mouse("mousedown", "1")
        for k in range(1, 9):
            mouse("mousemove", "--window", real.window, str(x0 + (x1 - x0) * k // 8), str(y0 + (y1 - y0) * k // 8))
        views = [*(p.drops for p in app.split_panels), *(v.drops for v in app.strips)]
        landing = next(text for view in views for item, text in view.sources if item == source)
        landings.append(dpg.get_value(landing))  # what the dragged slot says, over its target
        if during:
            real.frames(3)
            dpg.output_frame_buffer(file=during)
            real.frames(3)
        mouse("mouseup", "1")
        real.settle()

    real.click(app.strips[0].slot_buttons[1])  # the split's name: its window opens
    real.settle()
    panel = app.split_panels[-1]
    chain = app.session.tracks[0].chain
    after, landings = [], []
    drag(panel.branches[0].names[0], panel.branches[1].add_plugin)  # the Compressor onto the dry branch's +
    after.append(_names(chain))
    during = shot.replace(".png", "-during.png")
    drag(app.strips[0].slot_buttons[0], panel.branches[1].names[0], during)  # the strip's Gain onto it, in the window
    after.append(_names(chain))
    drag(panel.branches[1].names[1], app.strips[0].slot_buttons[1])  # the Compressor out, onto the strip's Reverb
    after.append(_names(chain))
    result = {"after": after, "landings": landings, "history": app.session.history.labels()[0],
              "shown": [[dpg.get_item_label(n) for n in rows.names] for rows in panel.branches]}
    mouse("mousemove", "--window", real.window, "5", "5")
    dpg.focus_item(panel.window)  # the split window in front for the picture
    real.frames(4)
    dpg.output_frame_buffer(file=shot)
    real.frames(4)
    print(json.dumps(result))
    real.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
