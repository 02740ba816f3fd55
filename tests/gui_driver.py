"""Driving Dear PyGui widgets from a test as a click would."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import dearpygui.dearpygui as dpg

from rackhost.gui.app import RackApp
from rackhost.presets import load_session, session_to_dict


@contextlib.contextmanager
def built_window(path: Path) -> Iterator[RackApp]:
    """The rack window of the session file at ``path``, built in a Dear PyGui context of its own, no engine."""
    rack = RackApp(load_session(path), path, start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        yield rack
    finally:
        rack.close()
        dpg.destroy_context()


TESTS = Path(__file__).parent


def window_output(*command: str | Path, screen: str = "1280x720", timeout: float = 300) -> dict:
    """``python *command`` (a window script in tests/ and its arguments, or ``-c``, a script's text and its
    arguments) run under Xvfb in a process of its own, tests/ on its path: the JSON its last line prints."""
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", sys.executable, *map(str, command)],
                         check=False, capture_output=True, text=True, timeout=timeout, cwd=TESTS, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def document(app: RackApp) -> dict:
    """The session as its file would hold it: what a view must leave alone and an edit must change."""
    return session_to_dict(app.session)


def steps(app: RackApp) -> int:
    """How many undo steps the session's history holds."""
    return len(app.session.history.labels()[0])


def click(item: int, value: object = None) -> None:
    """Set the value (if given), then run the item's callback with the arguments run_callbacks would pass."""
    if value is not None:
        dpg.set_value(item, value)
    callback = dpg.get_item_callback(item)
    arguments = (item, value, dpg.get_item_user_data(item))
    callback(*arguments[: len(inspect.signature(callback).parameters)])


def drop(source: int, target: int) -> None:
    """Drop ``source``'s drag payload on ``target`` as Dear PyGui does at the end of a drag: the target's drop
    callback gets (target, the payload's drag_data, None), if it takes that payload type. None: Dear PyGui hands a
    drop callback no user_data (a real drop under Xvfb showed it), so a target's place must be bound otherwise."""
    payloads = [p for p in dpg.get_item_children(source, 3) if dpg.get_item_type(p) == "mvAppItemType::mvDragPayload"]
    assert payloads, f"item {source} has no drag payload: it cannot be dragged"
    payload = dpg.get_item_configuration(payloads[0])
    assert payload["payload_type"] == dpg.get_item_configuration(target)["payload_type"], "the target refuses it"
    callback = dpg.get_item_drop_callback(target)
    arguments = (target, payload["drag_data"], None)
    callback(*arguments[: len(inspect.signature(callback).parameters)])


def until(app: RackApp, predicate, what: str, timeout: float = 60.0) -> None:
    """Run ``app``'s frames (and Dear PyGui's callbacks) until ``predicate()`` holds; fail saying what was awaited,
    with the engine's status and the window's last messages, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.frame()
        dpg.run_callbacks(dpg.get_callback_queue())
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; status: {app.engine_state}; said: {app.messages[-3:]}")
