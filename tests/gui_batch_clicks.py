"""Open the real rack window, drive the batch dialog with xdotool; print the outcome as JSON.

``python gui_batch_clicks.py SESSION SONGS OUT SLOW SLOW_OUT SHOT.png`` under Xvfb (tests/test_gui_batch.py):
the menu opens the dialog; SONGS (three WAVs and a file that is not audio) go through the mastering/streaming
preset to -16 LUFS on two jobs, Go clicked, the finished table and a screenshot taken; then SLOW's files are
batched on one job and Cancel is clicked once the first has ended, and Go clicked again to resume.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import dearpygui.dearpygui as dpg
from gui_window import RealWindow

from rackhost.gui.batch_dialog import TYPED


def _menu_item(label: str) -> int:
    return next(i for i in dpg.get_all_items()
                if dpg.get_item_type(i) == "mvAppItemType::mvMenuItem" and dpg.get_item_label(i) == label)


def _wait(real: RealWindow, done, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the batch did not finish in time")
        real.frames(1)
        time.sleep(0.03)
    real.frames(6)


_views: list = []  # what the menu opened


def main(session_path: str, songs: str, out: str, slow: str, slow_out: str, shot: str) -> None:
    from rackhost.gui import app as gui

    opener = gui.VIEWS["batch"]
    gui.VIEWS["batch"] = lambda app: _views.append(opener(app)) or _views[-1]
    real = RealWindow(session_path, "rackhost-batch-clicks", 1600, 1000)
    dpg.get_item_callback(_menu_item("Batch files..."))()  # the menu's own callback
    real.frames(6)
    dialog = _views[-1]

    real.click(dialog.go_button)  # nothing chosen yet: said in the window
    empty = dialog.status_text

    dpg.set_value(dialog.inputs, songs)
    dpg.set_value(dialog.output, out)
    dpg.set_value(dialog.chain, "preset mastering/streaming")
    dpg.set_value(dialog.loudness, TYPED)
    dialog._loudness_chosen()
    x, y = dpg.get_item_rect_min(dialog.typed)  # its text field, left of its - and + buttons
    h = dpg.get_item_rect_size(dialog.typed)[1]
    subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + 25)), str(int(y + h / 2)),
                    "click", "1"], check=True)
    real.frames(6)
    _keys(real, "ctrl+a")
    subprocess.run(["xdotool", "type", "--window", real.window, "--delay", "30", "--", "-16"], check=True)
    _keys(real, "Return")
    dpg.set_value(dialog.jobs, 2)
    real.frames(4)
    real.click(dialog.go_button)
    started = dialog.task is not None
    _wait(real, lambda: dialog.task is None)
    finished = {"empty": empty, "started": started, "status": dialog.status_text, "rows": dialog.rows,
                "target": dialog.target(), "overlay": dpg.get_item_configuration(dialog.progress)["overlay"]}
    real.frames(10)
    dpg.output_frame_buffer(file=shot)
    real.frames(6)

    dpg.set_value(dialog.inputs, slow)
    dpg.set_value(dialog.output, slow_out)
    dpg.set_value(dialog.jobs, 1)
    real.click(dialog.go_button)
    _wait(real, lambda: dialog.summary is not None and len(dialog.summary.finished) >= 1, 300)
    real.click(dialog.cancel_button)
    _wait(real, lambda: dialog.task is None, 300)
    cancelled = {"status": dialog.status_text, "rows": dialog.rows, "cancelled": dialog.summary.cancelled}

    real.click(dialog.go_button)  # again: picks up where it stopped
    _wait(real, lambda: dialog.task is None)
    resumed = {"status": dialog.status_text, "rows": dialog.rows, "cancelled": dialog.summary.cancelled}
    print(json.dumps({"finished": finished, "cancelled": cancelled, "resumed": resumed}))
    real.close()


def _keys(real: RealWindow, keys: str) -> None:
    subprocess.run(["xdotool", "key", "--window", real.window, keys], check=True)
    real.frames(4)


if __name__ == "__main__":  # the batch's workers are spawned: they import this file and must not run it
    main(*sys.argv[1:7])
