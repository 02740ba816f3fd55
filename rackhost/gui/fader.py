"""A vertical fader drawn as a desk draws one: a dB scale, a groove and a cap, moved by dragging it.

The fader reads its value from the model each frame (:meth:`Fader.show`) and
hands every move to callbacks (the strip's host makes it an undoable edit);
it keeps only its widget ids and the drag in progress. A drag moves the cap
from where it was (a click does not jump it), Ctrl held makes it ten times
finer, the mouse wheel moves 1 dB a notch (0.1 dB with Ctrl), and a double
click puts it back to 0 dB. The taper is :mod:`rackhost.gui.taper`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import px
from rackhost.gui.taper import (FADER_FLOOR_DB, FADER_MAX_DB, FADER_TICKS, fader_db, fader_position, fader_text,
                                spaced)
from rackhost.gui.theme import ACCENT, MUTED, TEXT

CAP_HEIGHT = 22  # sizes here are for 1x: drawn at px(...) of them (rackhost.gui.scale)
FINE = 0.1  # Ctrl: a drag or a wheel notch moves a tenth as far
WHEEL_DB = 1.0
WHEEL_FLOOR_DB = -80.0  # below this the wheel jumps to silence: a notch a dB would take 70 notches
SCALE_WIDTH = 24  # the tick labels left of the groove


def ctrl_held() -> bool:
    return dpg.is_key_down(dpg.mvKey_ModCtrl) or dpg.is_key_down(dpg.mvKey_LControl) \
        or dpg.is_key_down(dpg.mvKey_RControl)


def alt_held() -> bool:
    return dpg.is_key_down(dpg.mvKey_ModAlt) or dpg.is_key_down(dpg.mvKey_LAlt) or dpg.is_key_down(dpg.mvKey_RAlt)


@dataclass
class _Drag:
    """A drag in progress: where it was anchored (re-anchored when Ctrl changes or the value moved elsewhere)."""

    position: float
    mouse_y: float
    fine: bool
    sent: float


class Fader:
    """One fader in the current container: ``width`` wide, ``height`` tall (:meth:`resize` follows the strip);
    its cap, scale and text at the window's scale when it was made."""

    def __init__(self, db: float, *, width: int, height: int, changed: Callable[[float], None],
                 ended: Callable[[], None], scale: bool = True):
        self.db = db
        self.width = width
        self.cap_height = px(CAP_HEIGHT)
        self.scale_width = px(SCALE_WIDTH)
        self.height = max(height, 3 * self.cap_height)
        self.changed = changed
        self.ended = ended
        self.scale = scale
        self._drag: _Drag | None = None
        self._wheeled = False
        self.drawlist = dpg.add_drawlist(width=width, height=self.height)
        self.cap = self.cap_line = 0
        self._draw()

    @property
    def travel(self) -> float:
        return self.height - self.cap_height

    @property
    def groove_x(self) -> float:
        return self.scale_width + (self.width - self.scale_width) / 2 if self.scale else self.width / 2

    def y_of(self, db: float) -> float:
        """The y of the cap's centre for ``db`` (drawlist pixels)."""
        return self.cap_height / 2 + (1.0 - fader_position(db)) * self.travel

    def _draw(self) -> None:
        dpg.delete_item(self.drawlist, children_only=True)
        x = self.groove_x
        top, bottom = self.y_of(FADER_MAX_DB), self.y_of(FADER_FLOOR_DB)
        dpg.draw_rectangle((x - px(2), top), (x + px(2), bottom), fill=(16, 17, 20), color=(16, 17, 20),
                           parent=self.drawlist)
        for db in spaced((FADER_FLOOR_DB, *FADER_TICKS), self.y_of, px(14)):
            y = self.y_of(db)
            dpg.draw_line((x - px(9), y), (x - px(4), y), color=(110, 114, 122), parent=self.drawlist)
            dpg.draw_line((x + px(4), y), (x + px(9), y), color=(110, 114, 122), parent=self.drawlist)
            if self.scale:
                label = "-inf" if db <= FADER_FLOOR_DB else f"{db:+.0f}" if db > 0 else f"{db:.0f}"
                dpg.draw_text((0, y - px(6)), label, size=px(12), color=TEXT if db == 0 else MUTED,
                              parent=self.drawlist)
        half = self._half
        self.cap = dpg.draw_rectangle((x - half, 0), (x + half, self.cap_height), fill=(150, 154, 162),
                                      color=(200, 204, 210), rounding=px(2), parent=self.drawlist)
        self.cap_line = dpg.draw_line((x - half, 0), (x + half, 0), color=ACCENT, thickness=2, parent=self.drawlist)
        self._place()

    def _place(self) -> None:
        x, y, half = self.groove_x, self.y_of(self.db), self._half
        dpg.configure_item(self.cap, pmin=(x - half, y - self.cap_height / 2), pmax=(x + half, y + self.cap_height / 2))
        dpg.configure_item(self.cap_line, p1=(x - half, y), p2=(x + half, y))

    @property
    def _half(self) -> float:
        """Half the cap's width."""
        return min(float(px(14)), (self.width - (self.scale_width if self.scale else 0)) / 2 - 1)

    def resize(self, height: int) -> None:
        height = max(int(height), 3 * self.cap_height)
        if height != self.height:
            self.height = height
            dpg.configure_item(self.drawlist, height=height)
            self._draw()

    def show(self, db: float) -> None:
        """Show the model's gain (moved elsewhere: a controller, undo)."""
        if db != self.db:
            self.db = db
            self._place()

    def move_to(self, db: float) -> None:
        """Move to ``db`` as the hand would (rounded to 0.1 dB, within the fader's range) and say so."""
        db = FADER_FLOOR_DB if db <= FADER_FLOOR_DB else round(min(FADER_MAX_DB, db), 1)
        if db != self.db:
            self.show(db)
            self.changed(db)

    def reset(self) -> None:
        """A double click: back to 0 dB, one undo step."""
        self._drag = None
        self.move_to(0.0)
        self.ended()

    def wheel(self, notches: float) -> None:
        """The mouse wheel over the fader: 1 dB a notch, 0.1 dB with Ctrl; a burst of notches is one step."""
        if self.db <= WHEEL_FLOOR_DB:  # the scale's far bottom: a notch up comes in at -80 dB, a notch down is -inf
            self.move_to(WHEEL_FLOOR_DB if notches > 0 else FADER_FLOOR_DB)
        else:
            self.move_to(self.db + notches * WHEEL_DB * (FINE if ctrl_held() else 1.0))
        self._wheeled = True

    def poll(self) -> None:
        """Follow a drag in progress; once a frame."""
        active = dpg.is_item_active(self.drawlist)
        if not active:
            if self._drag is not None:
                self._drag = None
                self.ended()
            if self._wheeled and not dpg.is_item_hovered(self.drawlist):
                self._wheeled = False
                self.ended()  # the pointer left: the wheel's burst is one undo step
            return
        y = dpg.get_mouse_pos(local=False)[1]
        fine = ctrl_held()
        drag = self._drag
        if drag is None or drag.fine != fine or drag.sent != self.db:
            # A new drag, Ctrl pressed or let go, or the value moved under it (a double click): anchor here.
            self._drag = _Drag(fader_position(self.db), y, fine, self.db)
            return
        position = drag.position - (y - drag.mouse_y) / self.travel * (FINE if fine else 1.0)
        self.move_to(fader_db(min(1.0, max(0.0, position))))
        drag.sent = self.db

    @property
    def text(self) -> str:
        return fader_text(self.db)
