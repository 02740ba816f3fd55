"""A meter's dB scale: its labels never overlap, however tall the strip makes the meter (the top one, 0 dBFS, is
held inside the meter, and a label it would then cover is left out), and 0 is always labelled.

Built without a display (Dear PyGui builds and draws into a drawlist without one).
"""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import pytest

from rackhost.gui.meter_view import MeterView
from rackhost.gui.theme import apply_theme

LABEL = 11  # the labels' font size at 1x


@pytest.fixture
def window():
    dpg.create_context()
    try:
        apply_theme()  # the clip light's looks
        with dpg.window() as root:
            yield root
    finally:
        dpg.destroy_context()


def _labels(meter: MeterView) -> list[tuple[float, str]]:
    texts = [c for c in dpg.get_item_children(meter.drawlist, 2) if dpg.get_item_type(c).endswith("mvDrawText")]
    return sorted((dpg.get_item_configuration(t)["pos"][1], dpg.get_item_configuration(t)["text"]) for t in texts)


def test_a_meters_scale_labels_never_overlap_and_0_is_always_there(window):
    dpg.push_container_stack(window)
    try:
        for height in range(80, 900, 7):  # every height a strip gives its meter, from a short window to a tall one
            meter = MeterView(height=height, reset=lambda: None)
            labels = _labels(meter)
            assert "0" in [text for _, text in labels] and len(labels) >= 3, (height, labels)
            tops = [y for y, _ in labels]
            assert all(b - a >= LABEL + 1 for a, b in zip(tops, tops[1:])), (height, labels)
            assert tops[0] >= 0 and tops[-1] + LABEL <= meter.height, (height, labels, meter.height)
    finally:
        dpg.pop_container_stack()
