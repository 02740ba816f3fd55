"""One channel strip: name, chain slots, mute/solo, fader, pan and a meter, for a track or the master."""

from __future__ import annotations

from typing import Callable

import dearpygui.dearpygui as dpg

from rackhost.chain.dsp import gain_to_db

STRIP_WIDTH = 190
SLOT_AREA_HEIGHT = 200
METER_FLOOR_DB = -60.0

Command = Callable[..., None]


def meter_fraction(peak: float) -> float:
    """A linear peak as a bar length: -60 dBFS empty, 0 dBFS full."""
    db = gain_to_db(peak)
    return max(0.0, min(1.0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))


class StripView:
    """The widgets of one strip; keeps their ids, takes its parent, reads the model it is given."""

    def __init__(self, parent: int | str, owner: object, label: str, on_change: Command, is_master: bool = False):
        self.owner = owner
        self.is_master = is_master
        self.on_change = on_change
        with dpg.child_window(parent=parent, width=STRIP_WIDTH, height=-1, border=True) as self.root:
            dpg.add_text(label, color=(240, 240, 240))
            chain = owner.chain  # type: ignore[attr-defined]
            origin = f"preset: {chain.origin}" if chain.origin else f"{len(chain)} slot{'s' * (len(chain) != 1)}"
            dpg.add_text(origin, color=(140, 144, 152))
            dpg.add_separator()
            self.slots = []
            # A fixed-height slot area keeps every strip's controls on one line across the rack.
            with dpg.child_window(height=SLOT_AREA_HEIGHT, border=False):
                for index, slot in enumerate(chain):
                    with dpg.group(horizontal=True):
                        box = dpg.add_checkbox(default_value=not slot.bypass, user_data=index,
                                               callback=self._toggle_slot)
                        dpg.add_text(slot.name + (f"  {slot.mix:.0%}" if slot.mix < 1 else ""))
                    self.slots.append(box)
            dpg.add_separator()
            if is_master:
                dpg.add_spacer(height=43)  # where a track has mute/solo and pan, so the faders line up
            else:
                with dpg.group(horizontal=True):
                    self.mute = dpg.add_checkbox(label="M", default_value=owner.mute,  # type: ignore[attr-defined]
                                                 callback=lambda s, v, _=None: self.on_change("mute", v))
                    self.solo = dpg.add_checkbox(label="S", default_value=owner.solo,  # type: ignore[attr-defined]
                                                 callback=lambda s, v, _=None: self.on_change("solo", v))
                self.pan = dpg.add_slider_float(label="pan", min_value=-1.0, max_value=1.0, width=120,
                                                default_value=owner.pan, format="%.2f",  # type: ignore[attr-defined]
                                                callback=lambda s, v, _=None: self.on_change("pan", v))
            self.gain = dpg.add_slider_float(label="dB", min_value=-60.0, max_value=12.0, width=120,
                                             default_value=owner.gain_db, format="%.1f",  # type: ignore[attr-defined]
                                             callback=lambda s, v, _=None: self.on_change("gain_db", v))
            dpg.add_spacer(height=4)
            self.meters = [dpg.add_progress_bar(default_value=0.0, width=-1, height=10, overlay="")
                           for _ in range(2)]
            self.readout = dpg.add_text("-inf dBFS", color=(140, 144, 152))

    def _toggle_slot(self, sender: int, active: bool, index: int) -> None:
        self.on_change("bypass", index, not active)

    def show_levels(self, row: object) -> None:
        """``row``: (2 channels, [peak, rms, peak hold, clip]) from the engine's meters."""
        for bar, channel in zip(self.meters, row):  # type: ignore[call-overload]
            dpg.set_value(bar, meter_fraction(float(channel[0])))
            dpg.configure_item(bar, overlay="CLIP" if channel[3] else "")
        hold = max(float(row[0][2]), float(row[1][2]))  # type: ignore[index]
        dpg.set_value(self.readout, f"{gain_to_db(hold):6.1f} dBFS peak" if hold > 0 else "-inf dBFS")
