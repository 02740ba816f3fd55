"""The status line at the foot of the rack window: wrapped to the window's width, never more than two lines.

A message longer than two lines (a plug-in's whole probe failure, a path deep in
a folder tree) is cut at the end with "..", as every cut text in the window is
(rackhost.gui.text); its full text is in the tooltip, so nothing the user was
told is lost because the window is narrow.
"""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import SCALE, px
from rackhost.gui.text import shorten

LINES = 2
LINE_HEIGHT = 13  # Dear PyGui's built-in font (the theme keeps it); in a big window: SCALE.font_pixels
LINE_GAP = 5  # the theme's vertical item spacing
# What the views above leave free for the line (a negative height for their child windows), at 1x: px(HEIGHT).
HEIGHT = LINES * LINE_HEIGHT + 2 * LINE_GAP + 8


class StatusLine:
    """One text item and its tooltip; :meth:`show` fits a message to the width the window has."""

    def __init__(self, window: int, color: tuple[int, ...]):
        self.window = window
        self.text = dpg.add_text("", color=color, parent=window)
        with dpg.tooltip(self.text, show=False) as self.tooltip:
            self.tooltip_text = dpg.add_text("", wrap=640)
        self.message = ""
        self.shown = ""
        self._fitted: tuple[str, float] = ("", -1.0)

    def show(self, message: str, color: tuple[int, ...]) -> None:
        self.message = message
        dpg.configure_item(self.text, color=color)
        self.refit()

    def refit(self) -> None:
        """Wrap (and cut) the message for the window's current width; cheap when neither changed."""
        width = self.width()
        if self._fitted == (self.message, width):
            return
        self._fitted = (self.message, width)
        self.shown = fit(self.message, width)
        dpg.configure_item(self.text, wrap=width)
        dpg.set_value(self.text, self.shown)
        dpg.set_value(self.tooltip_text, self.message)
        dpg.configure_item(self.tooltip, show=_height(self.message, width) > SCALE.font_pixels)

    def width(self) -> float:
        """The width the text may take: the window's, less its padding (the viewport's before the first frame)."""
        window = dpg.get_item_rect_size(self.window)[0]
        if not window:  # before the first frame; with no viewport at all (widgets built in a test), its default
            window = (dpg.get_viewport_client_width() if dpg.is_viewport_ok() else 0) or 1280
        x = dpg.get_item_pos(self.text)[0] or 8
        return float(max(100, window - 2 * x))


def fit(message: str, width: float, lines: int = LINES) -> str:
    """``message``, cut with ".." so that wrapped at ``width`` pixels it takes at most ``lines`` lines."""
    limit = lines * SCALE.font_pixels
    if _height(message, width) <= limit:
        return message
    low, high = 0, len(message) - 1  # the longest cut (its ".." counted) that fits
    while low < high:
        middle = (low + high + 1) // 2
        if _height(shorten(message, middle), width) <= limit:
            low = middle
        else:
            high = middle - 1
    return shorten(message, low)


def _height(text: str, width: float) -> float:
    size = dpg.get_text_size(text, wrap_width=width)
    if not size:  # no font yet (no frame rendered): count characters of the built-in 7-pixel-wide font
        per_line = max(1, int(width // px(7)))
        return SCALE.font_pixels * max(1, -(-len(text) // per_line))
    return size[1]
