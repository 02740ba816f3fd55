"""How a view of the rack looks in a real window: ``python gui_looks_run.py CASE SESSION SHOT.png [WxH]`` under
Xvfb (tests/test_gui_looks_window.py runs it), no engine. CASE opens one view, draws it, writes a screenshot
of it and prints, as JSON on its last line, what the test checks: where things sit, what they say.
"""

from __future__ import annotations

import json
import sys
from typing import Callable

import dearpygui.dearpygui as dpg
import numpy as np
from gui_window import RealWindow

from rackhost.gui.scale import px
from rackhost.gui.text import CHAR
from rackhost.live.spectrum_tap import SlotReduction

CASES: dict[str, Callable[[RealWindow], dict]] = {}


def case(function: Callable[[RealWindow], dict]) -> Callable[[RealWindow], dict]:
    CASES[function.__name__] = function
    return function


def rect(item: int) -> list[float]:
    """[left, top, width, height] of ``item`` in the viewport, as drawn in the last frame."""
    return [*dpg.get_item_rect_min(item), *dpg.get_item_rect_size(item)]


def window_rect(window: int) -> list[float]:
    """[left, top, width, height] of a window (Dear PyGui gives a window no item rectangle)."""
    return [*dpg.get_item_pos(window), dpg.get_item_width(window), dpg.get_item_height(window)]


def texts(item: int) -> list[int]:
    """Every text item under ``item``, in order (a tooltip's too)."""
    found = [item] if dpg.get_item_type(item).endswith("mvText") else []
    for children in dpg.get_item_children(item).values():
        for child in children:
            found += texts(child)
    return found


def tips(item: int) -> dict[int, str]:
    """The items under ``item`` that have a tooltip -> its words. Dear PyGui puts a tooltip right after its item,
    among the item's siblings (in a table row too, where it takes no column)."""
    found: dict[int, str] = {}
    for children in dpg.get_item_children(item).values():
        for before, child in zip(children, children[1:]):
            if dpg.get_item_type(child).endswith("mvTooltip"):
                found[before] = " ".join(dpg.get_value(t) for t in texts(child))
        for child in children:
            if not dpg.get_item_type(child).endswith("mvTooltip"):
                found.update(tips(child))
    return found


@case
def parameter_form(real: RealWindow) -> dict:
    """The first strip's first slot's parameter panel: each control, and every text drawn in the panel."""
    panel = real.app.open_panel(0, 0)
    dpg.set_item_pos(panel.window, [300, 60])
    real.frames(6)
    controls = {name: {"label": dpg.get_item_label(item), "rect": rect(item), "kind": dpg.get_item_type(item)}
                for name, item in panel.controls.items() if dpg.is_item_visible(item) and name not in panel.outputs}
    tipped = tips(panel.body)
    shown = [{"text": dpg.get_value(t), "rect": rect(t), "tip": tipped.get(t)} for t in texts(panel.body)
             if dpg.is_item_visible(t)]
    # The top row's wet/dry slider, and every text drawn in the panel above the form.
    top = [{"text": dpg.get_value(t), "rect": rect(t)} for t in texts(panel.window)
           if dpg.is_item_visible(t) and t not in texts(panel.body)]
    return {"controls": controls, "texts": shown, "window": window_rect(panel.window), "top": top,
            "mix": {"label": dpg.get_item_label(panel.mix), "rect": rect(panel.mix)}}


@case
def spectrum_gain(real: RealWindow) -> dict:
    """The spectrum view on the master, handed the frames of a chain that makes a tone 3.9 dB louder (no engine:
    what its tap would publish) and the per-slot figure the engine would report for its one Gain."""
    app = real.app
    view = app.open_spectrum(None)
    t = np.arange(8192) / app.session.sample_rate
    pre = 0.1 * np.sin(2 * np.pi * 1000.0 * t)
    view.show(np.vstack([pre, pre * 10 ** (3.9 / 20)]).astype(np.float32), app.session.sample_rate)
    view.reductions = [SlotReduction((0,), -3.9)]
    dpg.set_value(view.slots_text, view._slots_line())
    real.frames(6)  # the window's frame puts each slot's figure on its strip
    return {"readout": dpg.get_value(view.readout), "slots_line": dpg.get_value(view.slots_text),
            "slot_label": dpg.get_item_label(app.master.slot_buttons[0]),
            "slot_tip": dpg.get_value(app.master.slot_tips[0][1]), "estimate": view.gain_reduction_db}


NARROW_LEVELS = ((-14.4, -26.2), (-6.0, -14.0), (-100.4, -118.0), (None, None))  # dBFS, None: silence


@case
def narrow_readouts(real: RealWindow) -> dict:
    """View > Narrow strips, each track's meter handed a peak hold and an RMS (as the engine's meters would be):
    each level readout's words, its size, and the room its strip has inside (its colour band spans it)."""
    app = real.app
    app.set_narrow(True)
    real.frames(4)
    for strip, (hold, rms) in zip(app.strips, NARROW_LEVELS):
        gains = [0.0 if db is None else 10 ** (db / 20) for db in (hold, rms)]
        strip.show_levels([[gains[0], gains[1], gains[0], 0.0]] * 2)  # per channel: peak, rms, peak hold, clip
    real.frames(4)
    return {"readouts": [{"text": dpg.get_value(s.readout), "rect": rect(s.readout), "inner": s.inner,
                          "band": rect(s.band)} for s in app.strips[: len(NARROW_LEVELS)]]}


@case
def narrow_pan(real: RealWindow) -> dict:
    """View > Narrow strips: where each strip's switches, its pan knob and the knob's value sit, beside its colour
    band (as wide as the strip's inside); a track with an input shows its mon switch too."""
    app = real.app
    app.set_narrow(True)
    real.frames(4)
    app.strips[0]._pan_moved(1.0)  # "R100": the longest value the knob says
    real.frames(4)
    out = []
    for strip in app.strips:
        items = (strip.mute, strip.solo, getattr(strip, "arm", 0), getattr(strip, "monitor", 0), strip.blind)
        switches = {dpg.get_item_label(item): rect(item) for item in items if item and dpg.is_item_shown(item)}
        audition = [rect(item) for item in (strip.hear_input, strip.match, strip.delta)]
        out.append({"name": strip.owner.name, "switches": switches, "pan": rect(strip.pan),
                    "pan_text": rect(strip.pan_text), "band": rect(strip.band), "audition": audition,
                    "console": rect(strip.gain)})  # the fader
    return {"strips": out}


@case
def preset_list(real: RealWindow) -> dict:
    """The preset browser: each listed row's cells (their words, their width, the words of a tooltip), then the
    pointer on the longest tags cell, and whether its tooltip shows."""
    from rackhost.gui.app import VIEWS

    browser = VIEWS["presets"](real.app)
    real.frames(6)
    tipped = tips(browser.table)
    rows = [[{"text": dpg.get_item_label(cell), "rect": rect(cell), "tip": tipped.get(cell)} for cell in row]
            for row in browser.rows if dpg.is_item_visible(row[0])]
    most = max(range(len(browser.entries)), key=lambda i: len(", ".join(browser.entries[i].tags)))
    longest = browser.rows[most][2]
    left, top, width, height = rect(longest)
    real.xdo("mousemove", "--window", real.window, str(int(left + width / 2)), str(int(top + height / 2)), frames=8)
    siblings = dpg.get_item_children(dpg.get_item_parent(longest), 1)
    after = siblings[siblings.index(longest) + 1 :][:1]  # its tooltip, if it has one, comes right after it
    tooltip = after[0] if after and dpg.get_item_type(after[0]).endswith("mvTooltip") else None
    shown = tooltip is not None and all(dpg.is_item_visible(t) for t in texts(tooltip))
    return {"rows": rows, "char": px(CHAR), "hovered": dpg.get_item_label(longest), "tip_shown": shown}


@case
def spectrum_place(real: RealWindow) -> dict:
    """The spectrum view opened by a real right-click on the first strip's level readout: where its window is,
    beside what it must leave in view (the transport's row under the menu bar, the first strip)."""
    app = real.app
    real.right_click(app.strips[0].readout)
    real.frames(4)
    assert app.spectrum is not None, app.messages[-3:]
    real.xdo("mousemove", "--window", real.window, "5", str(dpg.get_viewport_client_height() - 5))  # no tooltip
    return {"window": window_rect(app.spectrum.window), "record": rect(app.record_button),
            "band": rect(app.strips[0].band),  # the strip's colour band: as wide as it, less its padding
            "viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]}


if __name__ == "__main__":
    name, session_path, shot = sys.argv[1:4]
    width, height = (int(n) for n in (sys.argv[4] if len(sys.argv) > 4 else "1280x720").split("x"))
    real = RealWindow(session_path, f"rackhost-looks-{name}", width, height)
    out = CASES[name](real)
    real.frames(2)
    dpg.output_frame_buffer(file=shot)
    real.frames(4)
    real.app.close()
    print(json.dumps(out))
    real.close()
