"""Driving Dear PyGui widgets from a test as a click would."""

from __future__ import annotations

import inspect

import dearpygui.dearpygui as dpg


def click(item: int, value: object = None) -> None:
    """Set the value (if given), then run the item's callback with the arguments run_callbacks would pass."""
    if value is not None:
        dpg.set_value(item, value)
    callback = dpg.get_item_callback(item)
    arguments = (item, value, dpg.get_item_user_data(item))
    callback(*arguments[: len(inspect.signature(callback).parameters)])
