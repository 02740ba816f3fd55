"""The real window (``rackhost.gui.app.run``, what ``rackhost gui song.json`` runs) with a few steps scripted in.

Run by tests/test_gui_recovery.py on an Xvfb display, in a process of its own:

- ``edit SESSION``: once the session is loaded, add a track and turn a fader (edits as the window's
  controls make them), print ``edited`` when the recovery file is written, and keep running until killed.
- ``restore SESSION``: print the question the start asks as JSON, click its Restore button with xdotool,
  print the restored session and its history as JSON, undo (Ctrl+Z) back to the saved file and print it,
  redo (Ctrl+Shift+Z), press Ctrl+S with xdotool, print whether the recovery file is left, and quit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg

from rackhost.gui import app as app_module
from rackhost.gui.recovery import recovery_path

TITLE = "rackhost"


def say(line: str) -> None:
    print(line, flush=True)


def button(window: int, label: str) -> int:
    """The button labelled ``label`` in the dialog ``window``."""
    stack = [window]
    while stack:
        item = stack.pop()
        if dpg.get_item_type(item).endswith("mvButton") and dpg.get_item_label(item) == label:
            return item
        for slot in (0, 1, 2, 3):
            stack.extend(dpg.get_item_children(item, slot) or [])
    raise LookupError(f"no {label!r} button in the dialog")


def click(item: int) -> None:
    x, y = dpg.get_item_rect_min(item)
    w, h = dpg.get_item_rect_size(item)
    window = subprocess.check_output(["xdotool", "search", "--name", TITLE], text=True).split()[0]
    subprocess.run(["xdotool", "mousemove", "--window", window, str(int(x + w / 2)), str(int(y + h / 2)),
                    "click", "1"], check=True)


def key(name: str) -> None:
    window = subprocess.check_output(["xdotool", "search", "--name", TITLE], text=True).split()[0]
    subprocess.run(["xdotool", "key", "--window", window, name], check=True)


def main(mode: str, session_path: str) -> None:
    path = Path(session_path).resolve()
    recovery = recovery_path(path)
    original = app_module.RackApp.frame
    state = {"step": "load", "frames": 0}

    def edit_frame(app: app_module.RackApp) -> None:
        original(app)
        if state["step"] == "load" and app.session_path is not None and not app.files.loading \
                and not app.loader.pending:
            app.add_track("after the crash")
            app.set_gain(0, -12.0)
            state["step"] = "wait"
        elif state["step"] == "wait" and recovery.exists():
            say(f"edited {app.session.history.changes}")
            state["step"] = "idle"

    def restore_frame(app: app_module.RackApp) -> None:
        original(app)
        state["frames"] += 1
        step = state["step"]
        if step == "load" and app.questions.window is not None and dpg.does_item_exist(app.questions.window):
            state["frames"] = 0
            state["step"] = "shown"
        elif step == "shown" and state["frames"] > 5:  # laid out: the button has a place to click
            window = app.questions.window
            texts = [dpg.get_value(c) for c in dpg.get_item_children(window, 1)
                     if dpg.get_item_type(c).endswith("mvText")]
            say(json.dumps({"question": dpg.get_item_label(window), "text": texts}))
            click(button(window, "Restore"))
            state["step"] = "restoring"
        elif step == "restoring" and not app.files.loading and not app.loader.pending \
                and any(t.name == "after the crash" for t in app.session.tracks):
            say(json.dumps({"tracks": [t.name for t in app.session.tracks],
                            "gain_db": app.session.tracks[0].gain_db, "dirty": app.files.dirty,
                            "session_path": str(app.session_path),
                            "user_file_tracks": [t["name"] for t in json.loads(path.read_text())["tracks"]],
                            "history": app.session.history.labels()[0],
                            "history_list": dpg.get_item_configuration(app.history_view.listbox)["items"]}))
            key("ctrl+z")  # back to the file as it was saved...
            state["step"] = "undoing"
        elif step == "undoing" and len(app.session.tracks) == 1:
            say(json.dumps({"tracks": [t.name for t in app.session.tracks], "gain_db": app.session.tracks[0].gain_db,
                            "redo": app.session.history.labels()[1]}))
            key("ctrl+shift+z")  # ...and forward to the restored changes
            state["step"] = "redoing"
        elif step == "redoing" and len(app.session.tracks) == 2:
            key("ctrl+s")
            state["step"] = "saving"
            state["frames"] = 0
        elif step == "saving" and not app.files.dirty and state["frames"] > 5:
            say(json.dumps({"saved_tracks": [t["name"] for t in json.loads(path.read_text())["tracks"]],
                            "recovery_left": recovery.exists()}))
            dpg.stop_dearpygui()
            state["step"] = "done"

    app_module.RackApp.frame = edit_frame if mode == "edit" else restore_frame  # type: ignore[method-assign]
    app_module.run(path, start_engine=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
