"""Drag and drop with the split window: a plug-in dragged out of a branch onto another branch, onto the strip's
chain or another strip, and a strip's slot dropped into a branch. Each drop is one undo step, the window and the
strips redraw, a running engine gets the document (and keeps the instance).

The first tests build the window without a display and drop as Dear PyGui does at the end of a drag: the target's
drop callback called with the source's payload data (tests/gui_driver.py: drop). The last one drags with the real
mouse (xdotool) in a real window under Xvfb (tests/gui_split_drag.py) and keeps a screenshot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from conftest import SR, program_signal
from gui_driver import built_window, drop, steps

from rackhost.chain import Session, Split
from rackhost.chain.automation import Envelope, Point, SlotTarget, playing
from rackhost.cli.chain_spec import parse_chain
from rackhost.live.commands import Sync
from rackhost.presets import save_session

DRUMS = "Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb"


def _saved(tmp_path, wav_file) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav")).chain = parse_chain(DRUMS)
    session.add_track("bass", wav_file(program_signal(2, 1.0, seed=2), "bass.wav")).chain = \
        parse_chain("Gain(gain_db=-3)")
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


@pytest.fixture
def app(tmp_path, wav_file):
    with built_window(_saved(tmp_path, wav_file)) as rack:
        yield rack


def _names(chain) -> list:
    return [s.name if not isinstance(s, Split) else [[x.name for x in b.chain] for b in s.branches] for s in chain]


def _shown(panel) -> list[list[str]]:
    return [[dpg.get_item_label(n) for n in rows.names] for rows in panel.branches]


def test_a_plugin_dragged_onto_another_branchs_plus_goes_last_there_in_one_step_and_the_engine_gets_it(app):
    sent: list = []
    app.engine = type("Engine", (), {"alive": True, "send": staticmethod(sent.append),
                                     "follow_strips": staticmethod(lambda moved: None)})()
    drums = app.session.tracks[0]
    compressor = drums.chain[1].branches[0].chain[0]
    panel = app.open_split(0, 1)
    history = steps(app)
    drop(panel.branches[0].names[0], panel.branches[1].add_plugin)
    assert _names(drums.chain) == ["Gain", [[], ["Compressor"]], "Reverb"]
    assert drums.chain[1].branches[1].chain[0] is compressor  # the instance itself, not a copy
    assert steps(app) == history + 1 and app.session.history.labels()[0][-1] == "move Compressor into branch 2 of split"
    assert _shown(panel) == [[], ["Compressor"]]  # the window redrew
    assert [type(c) for c in sent] == [Sync]  # the engine gets the document and keeps its instances
    app.engine = None
    app.undo()
    assert _names(drums.chain) == ["Gain", [["Compressor"], []], "Reverb"] and _shown(panel) == [["Compressor"], []]


def test_a_strip_slot_dropped_on_a_plugin_in_a_branch_goes_before_it_and_back_out_onto_the_strip(app):
    drums = app.session.tracks[0]
    gain = drums.chain[0]
    panel = app.open_split(0, 1)
    drop(app.strips[0].slot_buttons[0], panel.branches[0].names[0])  # the strip's Gain on the Compressor
    assert _names(drums.chain) == [[["Gain", "Compressor"], []], "Reverb"] and drums.chain[0].branches[0].chain[0] is gain
    assert _shown(panel) == [["Gain", "Compressor"], []] and panel.path == (0,)  # the window followed its split
    drop(panel.branches[0].names[0], app.strips[0].add_slot)  # out of the split: last in the strip's chain
    assert _names(drums.chain) == [[["Compressor"], []], "Reverb", "Gain"] and drums.chain[2] is gain
    drop(panel.branches[0].names[0], app.strips[0].slot_buttons[0])  # the Compressor on the split's own name
    assert _names(drums.chain) == ["Compressor", [[], []], "Reverb", "Gain"]
    assert app.session.history.labels()[0][-3:] == ["move Gain into branch 1 of split", "move Gain out of split",
                                                    "move Compressor out of split"]
    for _ in range(3):
        app.undo()
    assert _names(drums.chain) == ["Gain", [["Compressor"], []], "Reverb"] and drums.chain[0] is gain


def test_a_strip_slot_dropped_on_a_branchs_row_in_the_strip_goes_into_that_branch(app):
    drums = app.session.tracks[0]
    rows = app.strips[0].branch_levels[1]  # each branch's row: its level, then the names of its plug-ins
    row_text = dpg.get_item_children(dpg.get_item_parent(rows[1]), 1)[1]
    assert dpg.get_value(row_text) == "dry"
    drop(app.strips[0].slot_buttons[2], row_text)  # the Reverb on the dry branch's row
    assert _names(drums.chain) == ["Gain", [["Compressor"], ["Reverb"]]]
    assert dpg.get_value(dpg.get_item_children(dpg.get_item_parent(app.strips[0].branch_levels[1][1]), 1)[1]) \
        == "Reverb"


def test_a_plugin_dragged_from_a_branch_to_another_strip_takes_its_envelope_along(app):
    drums, bass = app.session.tracks
    compressor = drums.chain[1].branches[0].chain[0]
    envelope = app.session.edit.add_envelope(drums, Envelope(SlotTarget(compressor, "threshold_db"),
                                                             (Point(0.0, -40.0), Point(1.0, -20.0))))
    panel = app.open_split(0, 1)
    drop(panel.branches[0].names[0], app.strips[1].slot_buttons[0])  # before the bass's Gain
    assert _names(bass.chain) == ["Compressor", "Gain"] and bass.chain[0] is compressor
    assert playing(bass) == [envelope] and drums.automation == []
    assert app.session.history.labels()[0][-1] == "move Compressor to track 'bass'"
    app.undo()
    assert drums.chain[1].branches[0].chain[0] is compressor and playing(drums) == [envelope]


def test_a_split_dropped_into_its_own_branch_is_refused_and_said(app):
    drums = app.session.tracks[0]
    panel = app.open_split(0, 1)
    history = steps(app)
    drop(app.strips[0].slot_buttons[1], panel.branches[0].names[0])  # the split's name on its own Compressor
    assert app.messages[-1].startswith("split 'split' (slot path (1,)) cannot move into its own branch")
    assert _names(drums.chain) == ["Gain", [["Compressor"], []], "Reverb"] and steps(app) == history


def test_a_real_mouse_drag_moves_plugins_between_branches_and_the_strip_under_xvfb(tmp_path, wav_file):
    assert shutil.which("xdotool"), "make setup installs xdotool"
    path = _saved(tmp_path, wav_file)
    shot = tmp_path / "split-window-drag.png"
    script = Path(__file__).parent / "gui_split_drag.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script), str(path),
                          str(shot)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # The Compressor dragged onto the dry branch's + plug-in; the strip's Gain onto it there (before it);
    # then the Compressor out onto the strip's Reverb (before it).
    assert result["after"] == [
        ["Gain", [[], ["Compressor"]], "Reverb"],
        [[[], ["Gain", "Compressor"]], "Reverb"],
        [[[], ["Gain"]], "Compressor", "Reverb"],
    ]
    assert result["landings"] == ["lands: last in branch 2 of split", "lands: before Compressor in branch 2 of split",
                                  "lands: before Reverb on track 'drums'"]  # said while dragged over each target
    assert result["history"][-3:] == ["move Compressor into branch 2 of split", "move Gain into branch 2 of split",
                                      "move Compressor out of split"]
    assert result["shown"] == [[], ["Gain"]]
    during = shot.with_name("split-window-drag-during.png")  # mid-drag: the payload's text, the target marked
    assert shot.stat().st_size > 10_000 and during.stat().st_size > 10_000
    keep = Path("/tmp/split_shots")
    if keep.is_dir():  # for a person to look at
        shutil.copy(shot, keep / shot.name)
        shutil.copy(during, keep / during.name)
