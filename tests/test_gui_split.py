"""Split slots in the window: shown nested under their slot, branch levels and bypass editable, one undo step each.

Built without a window, as tests/test_gui_rack.py: each test does what a click does and asserts on the model.
"""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import numpy as np
import pytest

from conftest import SR, program_signal
from gui_driver import built_window, click
from rackhost.chain import Session, Slot, Split, render
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import save_session


@pytest.fixture
def app(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav"))
    drums.chain = parse_chain("Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb")
    drums.output = "glue"
    session.add_bus("glue", parse_chain("[BrickwallLimiter | @ -3]"))
    path = tmp_path / "song.json"
    save_session(session, path)
    with built_window(path) as rack:
        yield rack


def _texts(parent: int) -> list[str]:
    out = []
    for child in dpg.get_item_children(parent, 1) or []:
        if dpg.get_item_type(child) == "mvAppItemType::mvText":
            out.append(dpg.get_value(child))
        out += _texts(child)
    return out


def test_a_split_is_shown_nested_with_each_branch_level_and_plugins(app):
    strip = app.strips[0]
    assert dpg.get_item_label(strip.slot_buttons[1]) == "split"
    levels = strip.branch_levels[1]
    assert [dpg.get_value(item) for item in levels] == pytest.approx([-6.0, 0.0])
    shown = _texts(strip.root)
    assert "Compressor" in shown and "dry" in shown
    assert dpg.get_item_configuration(dpg.get_item_parent(levels[0]))["indent"] > 0  # nested under the split


def test_dragging_a_branch_level_is_one_undo_step_and_changes_the_sound(app):
    session = app.session
    split = session.tracks[0].chain[1]
    before = render(session, tail=False).audio
    level = app.strips[0].branch_levels[1][0]
    click(level, -3.0)
    click(level, 0.0)  # still the same drag
    session.history.seal()
    assert split.branches[0].level_db == 0.0
    assert not np.array_equal(render(session, tail=False).audio, before)
    app.undo()
    assert split.branches[0].level_db == -6.0
    np.testing.assert_array_equal(render(session, tail=False).audio, before)


def test_the_split_bypass_box_and_the_panels_parallel_button_edit_the_chain_with_undo(app):
    chain = app.session.tracks[0].chain
    click(app.strips[0].slots[1], False)  # unticked: the split is bypassed
    assert chain[1].bypass
    app.undo()
    assert not chain[1].bypass
    panel = app.open_panel(0, 2)  # the Reverb
    click(panel.parallel)
    assert isinstance(chain[2], Split) and chain[2].branches[0].chain[0].name == "Reverb"
    assert chain[2].branches[1].is_dry and not panel.alive  # its slot is now inside the split
    assert 2 in app.strips[0].branch_levels  # the rebuilt strip shows the new split nested
    app.undo()
    assert isinstance(chain[2], Slot) and chain[2].name == "Reverb"


def test_a_split_on_a_bus_strip_is_shown_and_its_branch_level_edited_like_a_tracks(app):
    bus = app.session.busses[0]
    view = app.bus_strips[0]
    levels = view.branch_levels[0]
    assert [dpg.get_value(item) for item in levels] == pytest.approx([0.0, -3.0])
    assert "BrickwallLimiter" in _texts(view.root) and "dry" in _texts(view.root)
    click(levels[1], -9.0)
    assert bus.chain[0].branches[1].level_db == -9.0
    app.undo()
    assert bus.chain[0].branches[1].level_db == -3.0
