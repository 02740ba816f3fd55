"""What the dialogs over the rack share (the preset browser, render/bounce, the audio settings), and the
window's modal questions.

``rackhost.gui.app`` puts the dialogs into its ``VIEWS`` (the menu opens them,
and ``rackhost gui --view NAME`` opens one at start, for a screenshot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import px
from rackhost.gui.theme import TEXT

if TYPE_CHECKING:
    from rackhost.gui.background import Task

WARNING = (235, 170, 80)  # a problem that is not an error: a clash to confirm, warnings after a load


class DialogView:
    """What the dialogs share: their window, a status line that says what happened, closing."""

    TITLE = ""
    window = 0
    status = 0
    task: Task | None = None

    def _say(self, text: str, color: tuple[int, ...] | None = None) -> None:
        dpg.set_value(self.status, text)
        dpg.configure_item(self.status, color=color or TEXT)

    @property
    def status_text(self) -> str:
        return dpg.get_value(self.status)

    def close(self) -> None:
        """Close the window; work still running stops at its next progress report, its result is dropped."""
        if self.task is not None:
            self.task.cancel()
        if dpg.does_item_exist(self.window):
            dpg.delete_item(self.window)


def viewport_size() -> tuple[int, int] | None:
    """The viewport's client width and height, or None where there is none yet (tests, before the first frame)."""
    try:
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
    except Exception:  # noqa: BLE001 - Dear PyGui raises a bare Exception when there is no viewport (tests)
        return None
    return (vw, vh) if vw > 0 and vh > 0 else None


def centre(window: int, width: int, height: int) -> None:
    """Put ``window`` in the middle of the viewport (where there is one), inside it if it is small; ``width`` and
    ``height`` are for 1x: a big window's dialogs grow with its text (:mod:`rackhost.gui.scale`)."""
    size = viewport_size()
    if size is None:
        return
    vw, vh = size
    width, height = min(px(width), vw - 20), min(px(height), vh - 20)
    dpg.configure_item(window, width=width, height=height)
    dpg.set_item_pos(window, [max(0, (vw - width) // 2), max(0, (vh - height) // 2)])


def open_once(view: Callable[[Any], DialogView]) -> Callable[[Any], DialogView | None]:
    """An opener of ``view`` (a :class:`DialogView` class, handed its host) that brings its window forward
    instead if it is open already."""

    def open_view(host: Any) -> DialogView | None:
        for window in dpg.get_windows():
            if dpg.get_item_label(window) == view.TITLE:  # type: ignore[attr-defined]
                dpg.focus_item(window)
                return None
        return view(host)

    return open_view


class QuestionDialog:
    """The window's one modal question at a time; asking another replaces it."""

    WIDTH, HEIGHT = 460, 180

    def __init__(self) -> None:
        self.window: int | None = None  # the question shown now

    def ask(self, title: str, text: str, buttons: dict[str, Callable[[], Any]]) -> int:
        """A modal question; each button runs its action and closes it."""
        self.close()
        with dpg.window(label=title, modal=True, no_collapse=True, width=self.WIDTH, height=self.HEIGHT,
                        on_close=lambda: dpg.delete_item(self.window)) as self.window:
            dpg.add_text(text, wrap=self.WIDTH - 30)
            dpg.add_spacer(height=8)
            with dpg.group(horizontal=True):
                for label, action in buttons.items():
                    dpg.add_button(label=label, user_data=action, callback=self._answer)
        centre(self.window, self.WIDTH, self.HEIGHT)
        return self.window

    def _answer(self, sender: int, app_data: Any, action: Callable[[], Any]) -> None:
        self.close()
        self.window = None
        action()

    def close(self) -> None:
        if self.window is not None and dpg.does_item_exist(self.window):
            dpg.delete_item(self.window)
