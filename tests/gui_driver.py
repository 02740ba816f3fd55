"""Driving Dear PyGui widgets from a test as a click would."""

from __future__ import annotations

import contextlib
import inspect
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
