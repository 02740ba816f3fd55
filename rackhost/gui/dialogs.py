"""The dialogs over the rack, by name: the preset browser, render/bounce and the audio settings.

``rackhost.gui.app`` puts them into its ``VIEWS`` (the menu opens them, and
``rackhost gui --view NAME`` opens one at start, for a screenshot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import dearpygui.dearpygui as dpg

from rackhost.gui.theme import TEXT

if TYPE_CHECKING:
    from rackhost.gui.app import RackApp
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


def centre(window: int, width: int, height: int) -> None:
    """Put ``window`` in the middle of the viewport (where there is one), inside it if it is small."""
    try:
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
    except Exception:  # noqa: BLE001 - Dear PyGui raises a bare Exception when there is no viewport (tests)
        return
    if vw <= 0 or vh <= 0:
        return
    width, height = min(width, vw - 20), min(height, vh - 20)
    dpg.configure_item(window, width=width, height=height)
    dpg.set_item_pos(window, [max(0, (vw - width) // 2), max(0, (vh - height) // 2)])


def dialog_views() -> dict[str, Callable[[RackApp], Any]]:
    from rackhost.gui.preset_browser import PresetBrowser
    from rackhost.gui.render_dialog import RenderDialog
    from rackhost.gui.settings_dialog import SettingsDialog

    return {"presets": _once(PresetBrowser), "render": _once(RenderDialog), "settings": _once(SettingsDialog)}


def _once(view: type[DialogView]) -> Callable[[RackApp], Any]:
    """Open ``view``, or bring its window forward if it is open already."""

    def open_view(app: RackApp) -> DialogView | None:
        for window in dpg.get_windows():
            if dpg.get_item_label(window) == view.TITLE:
                dpg.focus_item(window)
                return None
        return view(app)

    return open_view
