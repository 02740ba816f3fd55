"""A bus's strip, read-only for now: where it goes, its chain, fader, pan, mute, solo and sends.

Busses are edited through the Python API (``session.edit``) until the window
gets its routing controls; this strip shows what a loaded session does, so a
routed session opened in the window is not a mystery.
"""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from rackhost.gui.strip import STRIP_WIDTH, routing_text
from rackhost.gui.theme import ACCENT, MUTED


class BusStripView:
    """The widgets of one bus's strip; keeps their ids, takes its parent, reads the bus it is given."""

    def __init__(self, parent: int | str, bus: Any):
        self.bus = bus
        with dpg.child_window(parent=parent, width=STRIP_WIDTH, height=-1, border=True) as self.root:
            dpg.add_text(f"BUS {bus.name}", color=ACCENT)
            self.routing = dpg.add_text(routing_text(bus), color=MUTED)
            dpg.add_text(f"{bus.ab.active}|{bus.ab.inactive.lower()}  "
                         f"{len(bus.chain)} slot{'s' * (len(bus.chain) != 1)}", color=MUTED)
            self.slots = [dpg.add_text(("  " if not slot.bypass else "  (off) ") + slot.name) for slot in bus.chain]
            dpg.add_separator()
            flags = " ".join(f for f, on in (("M", bus.mute), ("S", bus.solo)) if on)
            self.mix = dpg.add_text(f"{bus.gain_db:+.1f} dB  pan {bus.pan:+.2f}  {flags}".rstrip())
            with dpg.tooltip(self.root):
                dpg.add_text("busses are edited from Python for now (session.edit.set_output, add_send, ...); "
                             "see README, Busses and sends")
