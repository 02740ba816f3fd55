"""The History list beside the master: every undo step, the undone ones after them; a click goes back to one."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from rackhost.gui.host import HistoryHost

OPENED = "(opened)"


class HistoryList:
    def __init__(self, host: HistoryHost):
        self.host = host
        self.listbox = 0
        self._shown = -1  # the history's change count the list shows

    def build(self) -> int:
        """The list, in the current container."""
        self.listbox = dpg.add_listbox([], num_items=24, width=-1, callback=lambda s, v: self.undo_to(v))
        return self.listbox

    def _items(self) -> tuple[list[str], int]:
        """Each step numbered: two steps of the same label ("add a point to gain_db") stay apart, so the
        highlight and a click land on the step meant, not on the first of its name."""
        done, undone = self.host.session.history.labels()
        items = [OPENED] + [f"{k}. {label}" for k, label in enumerate(done, 1)]
        items += [f"  ~ {k}. {label}" for k, label in enumerate(reversed(undone), len(done) + 1)]
        return items, len(done)

    def show(self) -> None:
        if not self.listbox:
            return
        self._shown = self.host.session.history.changes
        items, done = self._items()
        dpg.configure_item(self.listbox, items=items)
        dpg.set_value(self.listbox, items[done])

    def follow(self) -> None:
        """Once a frame: a fader, a mute, a parameter are edits that redraw nothing else; they show here too."""
        if self.host.session.history.changes != self._shown:
            self.show()

    def undo_to(self, label: str) -> None:
        """Clicking an entry undoes (or redoes) to just after it."""
        session = self.host.session
        target = self._items()[0].index(label)
        while len(session.history.labels()[0]) > target and session.undo():
            pass
        while len(session.history.labels()[0]) < target and session.redo():
            pass
        self.host.structure_changed()
