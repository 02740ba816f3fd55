"""Where a dragged slot would land, said while it is dragged.

Dear PyGui outlines the drop target under the pointer; the dragged slot's
payload also says in words where a drop there puts it (``lands: before
Compressor in branch 2 of split``). Each view (a strip, a split window) keeps
its drag sources and drop targets here, as widget ids and the words for them;
the window asks once a frame (:func:`show_landing`).
"""

from __future__ import annotations

from typing import Iterable

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import px
from rackhost.gui.theme import ACCENT

NOWHERE = "lands: (over a slot, a + plug-in or a branch)"


class DropTargets:
    """One view's drag sources (the slot's widget and its payload's landing line) and drop targets (the widget and
    where a drop on it puts the slot)."""

    def __init__(self) -> None:
        self.sources: list[tuple[int, int]] = []
        self.targets: dict[int, str] = {}

    def clear(self) -> None:
        self.sources.clear()
        self.targets.clear()

    def source(self, item: int, landing: int) -> None:
        self.sources.append((item, landing))

    def target(self, item: int, where: str) -> None:
        self.targets[item] = where

    def draggable(self, item: int, payload_type: str, drag_data: object, hint: str) -> None:
        """Make ``item`` a drag source: its payload shows ``hint`` and, while it is dragged, where it lands."""
        with dpg.drag_payload(parent=item, payload_type=payload_type, drag_data=drag_data):
            dpg.add_text(hint, wrap=px(360))
            self.source(item, dpg.add_text(NOWHERE, color=ACCENT))


def show_landing(views: Iterable[DropTargets]) -> str | None:
    """If a slot is being dragged: its payload's landing line names the target under the pointer (the first view
    given wins where views overlap: give the windows on top first). Returns what it said (None: no drag)."""
    views = list(views)
    dragged = next((landing for view in views for item, landing in view.sources
                    if dpg.does_item_exist(item) and dpg.is_item_active(item)), None)
    # The pressed slot held down is the drag: Dear PyGui's is_mouse_button_dragging reads False on a frame where
    # the pointer rests over its target, which is when the landing line matters.
    if dragged is None or not dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
        return None
    x, y = dpg.get_mouse_pos(local=False)
    where = next((words for view in views for item, words in view.targets.items() if _under(item, x, y)), None)
    text = f"lands: {where}" if where else NOWHERE
    if dpg.does_item_exist(dragged):
        dpg.set_value(dragged, text)
    return text


def _under(item: int, x: float, y: float) -> bool:
    if not dpg.does_item_exist(item) or not dpg.is_item_visible(item):
        return False
    (x0, y0), (w, h) = dpg.get_item_rect_min(item), dpg.get_item_rect_size(item)
    return x0 <= x < x0 + w and y0 <= y < y0 + h
