"""The History list beside the master: every undo step, the undone ones after them; a click goes back to one."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from rackhost.gui.host import HistoryHost
from rackhost.gui.scale import px
from rackhost.gui.text import cut

OPENED = "(opened)"
ROWS = 24
WIDTH = 154  # the list's width at 1x before its first frame has measured it (the History column's, less padding)
PADDING, SCROLLBAR = 4, 14  # at 1x: what the entries' text does not get of the list's width (the scrollbar: when
# there are more entries than rows)


class HistoryList:
    def __init__(self, host: HistoryHost):
        self.host = host
        self.listbox = 0
        self.tooltip_text = 0
        self.entries: list[str] = []  # as the list shows them: cut to its width
        self._shown = (-1, -1)  # the history's change count and the list's width it shows

    def build(self) -> int:
        """The list, in the current container."""
        self.listbox = dpg.add_listbox([], num_items=ROWS, width=-1, callback=lambda s, v: self.undo_to(v))
        with dpg.tooltip(self.listbox):
            self.tooltip_text = dpg.add_text("", wrap=px(320))
        return self.listbox

    def _items(self) -> tuple[list[str], int]:
        """Each step numbered: two steps of the same label ("add a point to gain_db") stay apart, so the
        highlight and a click land on the step meant, not on the first of its name."""
        done, undone = self.host.session.history.labels()
        items = [OPENED] + [f"{k}. {label}" for k, label in enumerate(done, 1)]
        items += [f"  ~ {k}. {label}" for k, label in enumerate(reversed(undone), len(done) + 1)]
        return items, len(done)

    def _width(self) -> int:
        width = dpg.get_item_rect_size(self.listbox)[0] if self.listbox else 0
        return int(width) or px(WIDTH)

    def show(self) -> None:
        if not self.listbox:
            return
        width = self._width()
        self._shown = (self.host.session.history.changes, width)
        items, done = self._items()
        # A long step ("send level to reverb") is cut with "..", its whole name in the tooltip.
        room = width - px(PADDING) - px(SCROLLBAR) * (len(items) > ROWS)
        self.entries = [cut(item, room) for item in items]
        dpg.configure_item(self.listbox, items=self.entries)
        dpg.set_value(self.listbox, self.entries[done])
        dpg.set_value(self.tooltip_text, f"now at: {items[done].strip()}\n(a click on a step goes back or "
                                         "forward to it; ~ marks the undone ones)")

    def follow(self) -> None:
        """Once a frame: a fader, a mute, a parameter are edits that redraw nothing else; they show here too
        (and a list made wider or narrower cuts its entries again)."""
        if (self.host.session.history.changes, self._width()) != self._shown:
            self.show()

    def undo_to(self, label: str) -> None:
        """Clicking an entry undoes (or redoes) to just after it."""
        session = self.host.session
        target = self.entries.index(label)
        while len(session.history.labels()[0]) > target and session.undo():
            pass
        while len(session.history.labels()[0]) < target and session.redo():
            pass
        self.host.structure_changed()
