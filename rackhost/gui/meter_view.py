"""A strip's peak meter drawn as a desk's: a bar per channel on a dB scale, peak hold, a clip light, a number.

And the master's loudness: momentary, short-term and integrated LUFS and
true peak, each a number and a bar with the session's target marked.
Both only show what the engine measured (:class:`rackhost.live.meters.MeterReader`,
:class:`rackhost.live.meters.LoudnessMeter`), read through the engine by the
window each frame; the clip light latches in the engine, and a click on it
asks the engine to let go (``reset``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from rackhost.chain.dsp import gain_to_db
from rackhost.gui.scale import px
from rackhost.gui.taper import METER_TICKS, meter_deflection, spaced
from rackhost.gui.theme import CLIP, CLIP_LIGHT, MUTED, TEXT, WARNING

BAR = 7  # a channel's bar width (sizes here are for 1x: drawn at px(...) of them, rackhost.gui.scale)
GAP = 2
SCALE = 20  # the tick labels right of the bars
CLIP_HEIGHT = 10
GREEN, YELLOW, RED = (70, 190, 110), (225, 200, 70), (230, 80, 60)
GROOVE = (16, 17, 20)
HOLD = (235, 235, 240)
ZONES = ((-70.0, -18.0, GREEN), (-18.0, -6.0, YELLOW), (-6.0, 0.0, RED))


def peak_text(gain: float) -> str:
    db = gain_to_db(gain)
    return "-inf" if db < -120.0 else f"{db:.1f}"


class MeterView:
    """Bars for ``channels`` channels, a clip light above, the held peak below; in the current container."""

    def __init__(self, *, height: int, reset: Callable[[], None], scale: bool = True, channels: int = 2):
        self.channels = channels
        self.scale = scale
        self.bar, self.gap, self.clip_height = px(BAR), px(GAP), px(CLIP_HEIGHT)
        self.width = channels * self.bar + (channels - 1) * self.gap + px(SCALE if scale else 2)
        self.clipped = False
        self.peaks = [0.0] * channels
        self.holds = [0.0] * channels
        with dpg.group() as self.root:
            self.clip = dpg.add_button(label="", width=channels * self.bar + (channels - 1) * self.gap,
                                       height=self.clip_height,
                                       callback=lambda: reset())
            dpg.bind_item_theme(self.clip, CLIP_LIGHT["off"])
            with dpg.tooltip(self.clip):
                self.clip_tip = dpg.add_text("clip: lights when a sample reaches 0 dBFS and stays lit; "
                                             "click to let it go")
            self.height = max(int(height) - self.clip_height - px(5), px(60))
            self.drawlist = dpg.add_drawlist(width=self.width, height=self.height)
        self.covers: list[int] = []
        self.hold_lines: list[int] = []
        self._draw()

    def y_of(self, db: float) -> float:
        return (1.0 - meter_deflection(db)) * (self.height - 1)

    def _draw(self) -> None:
        dpg.delete_item(self.drawlist, children_only=True)
        self.covers, self.hold_lines = [], []
        bar = self.bar
        for c in range(self.channels):
            x0 = c * (bar + self.gap)
            for low, high, color in ZONES:
                dpg.draw_rectangle((x0, self.y_of(high)), (x0 + bar, self.y_of(low)), fill=color, color=color,
                                   parent=self.drawlist)
            # The bar is the zones uncovered from the bottom up: a cover hides what the level does not reach.
            self.covers.append(dpg.draw_rectangle((x0, 0), (x0 + bar, self.height), fill=GROOVE, color=GROOVE,
                                                  parent=self.drawlist))
            self.hold_lines.append(dpg.draw_line((x0, -5), (x0 + bar, -5), color=HOLD, thickness=px(2),
                                                 parent=self.drawlist))
        if self.scale:
            x = self.channels * (bar + self.gap) + 1
            # Spaced where the labels are drawn: 0 dBFS's is held inside the meter, half a line under its tick,
            # and spacing the ticks alone let it cover the next label down (0 over 3 or 10).
            for db in spaced(METER_TICKS, self._label_top, px(13)):
                y = self.y_of(db)
                dpg.draw_line((x - px(2), y), (x + 1, y), color=MUTED, parent=self.drawlist)
                dpg.draw_text((x + px(2), self._label_top(db)), f"{abs(db):.0f}",
                              size=px(11), color=TEXT if db == 0 else MUTED, parent=self.drawlist)
        self._place()

    def _label_top(self, db: float) -> float:
        """Where a scale label's top is drawn: centred on its tick, kept inside the meter."""
        return max(0.0, min(self.y_of(db) - px(6), self.height - px(12)))

    def _place(self) -> None:
        for c in range(self.channels):
            x0 = c * (self.bar + self.gap)
            level = self.y_of(gain_to_db(self.peaks[c]))
            dpg.configure_item(self.covers[c], pmin=(x0, 0), pmax=(x0 + self.bar, level))
            hold = gain_to_db(self.holds[c])
            y = self.y_of(hold) if hold > -70.0 else -5.0
            dpg.configure_item(self.hold_lines[c], p1=(x0, y), p2=(x0 + self.bar, y))

    def resize(self, height: int) -> None:
        height = max(int(height) - self.clip_height - px(5), px(60))
        if height != self.height:
            self.height = height
            dpg.configure_item(self.drawlist, height=height)
            self._draw()

    def show(self, row: Any) -> None:
        """``row``: (channels, [peak, rms, peak hold, clip]) from the engine's meters."""
        self.peaks = [float(channel[0]) for channel in row][: self.channels]
        self.holds = [float(channel[2]) for channel in row][: self.channels]
        self._place()
        clipped = any(float(channel[3]) for channel in row)
        if clipped != self.clipped:
            self.clipped = clipped
            dpg.bind_item_theme(self.clip, CLIP_LIGHT["on" if clipped else "off"])


LOUDNESS_LOW, LOUDNESS_HIGH = -40.0, -4.0  # the LUFS bars' span
TRUE_PEAK_LOW, TRUE_PEAK_HIGH = -24.0, 3.0


class LoudnessView:
    """The master's loudness: a number and a bar each for M, S, I and TP, the target's mark on the bars."""

    ROWS = (("M", "lufs_m"), ("S", "lufs_s"), ("I", "lufs_i"), ("TP", "true_peak_db"))

    def __init__(self, target: Any, width: int):
        self.target = target  # rackhost.chain.master.LoudnessTarget or None
        self.width = width
        self.bar_width = max(px(40), width - px(74))
        self.bar_height = tall = px(10)  # each bar's height
        self.values: dict[str, int] = {}
        self.bars: dict[str, int] = {}
        aim = (f"target {target.integrated_lufs:g} LUFS, {target.true_peak_dbtp:g} dBTP" if target is not None
               else "no loudness target")
        self.caption = dpg.add_text(aim, color=MUTED)
        for label, key in self.ROWS:
            with dpg.group(horizontal=True, horizontal_spacing=px(4)):
                dpg.add_text(f"{label:<2}", color=MUTED)
                self.values[key] = dpg.add_text("  --  ")
                with dpg.drawlist(width=self.bar_width, height=tall):
                    dpg.draw_rectangle((0, 0), (self.bar_width, tall), fill=(16, 17, 20), color=(16, 17, 20))
                    self.bars[key] = dpg.draw_rectangle((0, 1), (0, tall - 1), fill=GREEN, color=GREEN)
                    mark = self._mark(key)
                    if mark is not None:
                        x = self._x(key, mark)
                        dpg.draw_line((x, -1), (x, tall + 1), color=TEXT, thickness=px(2))
        with dpg.tooltip(self.caption):
            dpg.add_text("M: momentary (400 ms), S: short-term (3 s), I: integrated since play from stop, in LUFS "
                         "(BS.1770-4); TP: true peak of the last 400 ms in dBTP. The white mark is the target "
                         "(Render sets one): I is green within 1 LU of it, TP red above the ceiling.", wrap=360)

    def _mark(self, key: str) -> float | None:
        if self.target is None:
            return None
        return self.target.true_peak_dbtp if key == "true_peak_db" else self.target.integrated_lufs

    def _x(self, key: str, value: float) -> float:
        low, high = (TRUE_PEAK_LOW, TRUE_PEAK_HIGH) if key == "true_peak_db" else (LOUDNESS_LOW, LOUDNESS_HIGH)
        return max(0.0, min(1.0, (value - low) / (high - low))) * self.bar_width

    def color(self, key: str, value: float) -> tuple[int, int, int]:
        """Green on target (or no target), yellow under it, red over it (I within 1 LU; TP under the ceiling)."""
        mark = self._mark(key)
        if mark is None:
            return GREEN
        if key == "true_peak_db":
            return RED if value > mark else GREEN
        if key == "lufs_i":
            return GREEN if abs(value - mark) <= 1.0 else RED if value > mark else YELLOW
        return RED if value > mark + 3.0 else GREEN

    def show(self, stats: dict) -> None:
        for _, key in self.ROWS:
            value = stats.get(key)
            known = value is not None and not math.isinf(value) and value > -99
            dpg.set_value(self.values[key], f"{value:6.1f}" if known else "  --  ")
            color = self.color(key, value) if known else GREEN
            dpg.configure_item(self.values[key], color=(CLIP if color == RED else WARNING if color == YELLOW
                                                        else TEXT) if known else MUTED)
            dpg.configure_item(self.bars[key], pmax=(self._x(key, value) if known else 0, self.bar_height - 1),
                               fill=color,
                               color=color)

    @property
    def text(self) -> str:
        """The numbers as one line (tests, the tooltip of a narrow strip)."""
        return "  ".join(f"{label} {dpg.get_value(self.values[key]).strip()}" for label, key in self.ROWS)
