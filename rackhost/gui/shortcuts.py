"""The window's keyboard shortcuts: one table, read both to handle a key and to list them under Help.

A shortcut never fires while the user types (a name, a search, a value typed
into a slider), so `r` in a track's name does not start recording. The
actions are handed in by the window (:class:`rackhost.gui.app.RackApp`); this
module keeps no state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import px
from rackhost.gui.theme import MUTED


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as the Help list shows it
    key: int  # the Dear PyGui key code
    ctrl: bool
    shift: bool
    action: str  # the name of the action the window hands in
    what: str


def _table() -> tuple[Shortcut, ...]:
    return (
        Shortcut("Space", dpg.mvKey_Spacebar, False, False, "play_stop", "play / stop"),
        Shortcut("R", dpg.mvKey_R, False, False, "record", "record the armed tracks"),
        Shortcut("L", dpg.mvKey_L, False, False, "loop", "loop on / off (the range beside the transport)"),
        Shortcut("Home", dpg.mvKey_Home, False, False, "to_start", "go to the start"),
        Shortcut("Delete", dpg.mvKey_Delete, False, False, "delete_slot",
                 "remove the selected slot (the one whose name you clicked last), or in a focused automation "
                 "lane its selected point"),
        Shortcut("Ctrl+S", dpg.mvKey_S, True, False, "save", "save the session"),
        Shortcut("Ctrl+Z", dpg.mvKey_Z, True, False, "undo", "undo"),
        Shortcut("Ctrl+Shift+Z", dpg.mvKey_Z, True, True, "redo", "redo"),
    )


# What a user types into: while one of these is active, keys are text, not shortcuts.
_TYPED = {f"mvAppItemType::{kind}" for kind in (
    "mvInputText", "mvInputFloat", "mvInputFloatMulti", "mvInputInt", "mvInputIntMulti", "mvInputDouble",
    "mvInputDoubleMulti", "mvSliderFloat", "mvSliderInt", "mvSliderDouble", "mvDragFloat", "mvDragInt",
    "mvDragDouble", "mvCombo", "mvListbox")}


def typing() -> bool:
    """Is the user typing into a field (or dragging or typing into a slider) right now?"""
    return any(dpg.is_item_active(item) for item in dpg.get_all_items()
               if dpg.get_item_info(item)["type"] in _TYPED)


def _down(*keys: int) -> bool:
    return any(dpg.is_key_down(k) for k in keys)


class Shortcuts:
    """Key handlers for the table, calling ``actions[shortcut.action]``; :meth:`show_list` is Help's window."""

    def __init__(self, actions: dict[str, Callable[[], object]]):
        self.table = _table()
        missing = {s.action for s in self.table} - set(actions)
        if missing:
            raise ValueError(f"no action for the shortcuts {sorted(missing)}: hand one in for each")
        self.actions = actions
        self.window = 0
        with dpg.handler_registry():
            for key in dict.fromkeys(s.key for s in self.table):
                dpg.add_key_press_handler(key, callback=lambda sender, code: self.pressed(code))

    def pressed(self, key: int) -> bool:
        """Run the shortcut for ``key`` with the modifiers held now; True if one ran."""
        ctrl = _down(dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl)
        shift = _down(dpg.mvKey_ModShift, dpg.mvKey_LShift, dpg.mvKey_RShift)
        for shortcut in self.table:
            if shortcut.key == key and shortcut.ctrl == ctrl and shortcut.shift == shift:
                if not shortcut.ctrl and typing():
                    return False  # a letter or Space typed into a field is text
                self.actions[shortcut.action]()
                return True
        return False

    def show_list(self) -> int:
        """Help > Keyboard shortcuts: every shortcut and what it does."""
        if self.window and dpg.does_item_exist(self.window):
            dpg.configure_item(self.window, show=True)
            dpg.focus_item(self.window)
            return self.window
        # Sized for the window's scale, the descriptions wrapped: a fixed 520 pixels cut them off.
        with dpg.window(label="Keyboard shortcuts", width=px(720), height=px(440), pos=(px(200), px(100))) \
                as self.window:
            with dpg.table(header_row=False):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=px(130))
                dpg.add_table_column()
                for shortcut in self.table:
                    with dpg.table_row():
                        dpg.add_text(shortcut.keys)
                        dpg.add_text(shortcut.what, color=MUTED, wrap=0)
                mouse = (("Wheel", "over a fader: 1 dB a notch; over the pan knob: 5%"),
                         ("Drag the pan knob", "up or right: towards R; down or left: towards L"),
                         ("Ctrl", "held while dragging a fader or turning the wheel: ten times finer"),
                         ("Double-click", "fader: 0 dB; pan: centre; a send: 0 dB"),
                         ("Right-click", "a fader, pan or parameter: learn MIDI"),
                         ("Drag a slot", "onto a slot or + plug-in, on any strip: move it there (Alt: copy)"),
                         ("Drag a track's =", "onto another track's =: move the track there"))
                for keys, what in mouse:
                    with dpg.table_row():
                        dpg.add_text(keys)
                        dpg.add_text(what, color=MUTED, wrap=0)
        return self.window
