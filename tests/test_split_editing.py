"""Editing inside a split's branches: the split window (built without a display, as tests/test_gui_split.py),
the editor's steps, the engine commands that reach a plug-in inside a branch by its path, and an engine process
playing under JACK that hears the window's edits.

Each window test does what a click does (tests/gui_driver.py) and asserts on the model, the history and the sound;
tests/test_split_window_clicks.py clicks the real window under Xvfb.
"""

from __future__ import annotations

import time

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR, program_signal
from gui_driver import built_window, click, steps
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, Slot, Split, render
from rackhost.chain.chain import item_at, locate, path_of
from rackhost.cli.chain_spec import parse_chain
from rackhost.errors import SessionError
from rackhost.live.commands import BranchLevel, Bypass, EngineCommandError, Mix, Play, SetParameter, Sync
from rackhost.live.process import EngineProcess, SessionLoader, apply_command
from rackhost.presets import save_session, session_to_dict
from rackhost.presets.session_sync import resync, session_from_document

DRUMS = "Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb"


@pytest.fixture
def app(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav"))
    drums.chain = parse_chain(DRUMS)
    path = tmp_path / "song.json"
    save_session(session, path)
    with built_window(path) as rack:
        yield rack


def _split(app):
    return app.session.tracks[0].chain[1]


def _heard(app) -> np.ndarray:
    return render(app.session, tail=False).audio


# -- the model ------------------------------------------------------------------------------------------


def test_a_slot_path_reaches_a_plugin_inside_nested_branches_and_a_wrong_one_is_said_by_name():
    chain = parse_chain("Gain; [Compressor | [Gain(gain_db=-3) | Reverb] ; Delay]")
    inner = chain[1].branches[1].chain[0].branches[1].chain[0]
    assert inner.name == "Reverb"
    assert item_at(chain, (1, 1, 0, 1, 0)) is inner
    assert path_of(chain, inner) == (1, 1, 0, 1, 0)
    assert locate(chain, (1, 1, 1)) == (chain[1].branches[1].chain, 1)
    assert item_at(chain, 0) is chain[0] and path_of(chain, chain[0]) == (0,)
    with pytest.raises(SessionError, match=r"slot 0 \(Gain\) is not a split"):
        item_at(chain, (0, 0, 0))
    with pytest.raises(SessionError, match="split 'split' has no branch 2 \\(it has 2\\)"):
        item_at(chain, (1, 2, 0))
    with pytest.raises(SessionError, match="no slot 5 in a chain of 2"):
        item_at(chain, (1, 1, 5))


# -- the split window -------------------------------------------------------------------------------------


def test_a_click_on_a_splits_name_opens_its_window_with_each_branch_its_level_and_its_plugins(app):
    click(app.strips[0].slot_buttons[1])
    panel = app.split_panels[-1]
    assert panel.split is _split(app) and panel.path == (1,)
    assert [dpg.get_value(rows.level) for rows in panel.branches] == pytest.approx([-6.0, 0.0])
    assert [dpg.get_item_label(name) for name in panel.branches[0].names] == ["Compressor"]
    assert panel.branches[1].names == []  # the dry branch
    click(app.strips[0].slot_buttons[1])
    assert len(app.split_panels) == 1  # brought forward, not opened twice


def test_a_plugin_added_to_a_branch_from_the_split_window_is_one_undo_step_and_is_heard(app):
    panel = app.open_split(0, 1)
    before, history = _heard(app), steps(app)
    click(panel.branches[1].add_plugin)  # the dry branch's + plug-in
    assert "branch 2 of split" in dpg.get_item_label(app.browser.window)
    app.browser.pick("Gain")  # loaded inline in this test; on the plug-in thread in the window
    dry = _split(app).branches[1].chain
    assert [s.name for s in dry] == ["Gain"] and steps(app) == history + 1
    assert [dpg.get_item_label(n) for n in panel.branches[1].names] == ["Gain"]  # the window redrew
    click(panel.branches[1].names[0])  # the name opens its parameter panel
    parameters = app.panels[-1]
    assert parameters.slot is dry[0] and parameters.index == (1, 1, 0)
    click(parameters.controls["gain_db"], -12.0)
    app.session.history.seal()
    assert dry[0].plugin.get("gain_db") == -12.0 and steps(app) == history + 2
    assert not np.array_equal(_heard(app), before)
    app.undo()
    app.undo()
    assert len(_split(app).branches[1].chain) == 0
    np.testing.assert_array_equal(_heard(app), before)


def test_a_plugin_in_a_branch_moves_and_is_removed_from_the_split_window_each_one_undo_step(app):
    split = _split(app)
    split.branches[0].chain.add("Gain", gain_db=-2.0)  # Compressor, Gain
    app.structure_changed()
    panel = app.open_split(0, 1)
    history = steps(app)
    click(panel.branches[0].down[0])  # the Compressor below the Gain
    assert [s.name for s in split.branches[0].chain] == ["Gain", "Compressor"]
    click(panel.branches[0].delete[0])  # the Gain removed
    assert [s.name for s in split.branches[0].chain] == ["Compressor"]
    assert steps(app) == history + 2 and app.session.history.labels()[0][-2:] == ["move slot", "remove slot"]
    click(panel.branches[0].bypass[0], False)
    assert split.branches[0].chain[0].bypass
    app.undo()
    app.undo()
    app.undo()
    assert [(s.name, s.bypass) for s in split.branches[0].chain] == [("Compressor", False), ("Gain", False)]
    assert [dpg.get_item_label(n) for n in panel.branches[0].names] == ["Compressor", "Gain"]


def test_branches_are_added_and_removed_from_the_split_window_and_a_split_keeps_two(app):
    panel = app.open_split(0, 1)
    split = _split(app)
    before = _heard(app)
    click(panel.add_branch)
    assert len(split.branches) == 3 and split.branches[2].is_dry and len(panel.branches) == 3
    assert not np.array_equal(_heard(app), before)  # a second dry path: the dry signal twice as loud
    click(panel.branches[0].remove)  # the compressed branch goes, plug-in and all
    assert [b.is_dry for b in split.branches] == [True, True] and len(panel.branches) == 2
    click(panel.branches[0].remove)
    assert len(split.branches) == 2 and "keeps two branches at least" in app.messages[-1]
    app.undo()
    assert len(split.branches) == 3 and split.branches[0].chain[0].name == "Compressor"


def test_a_branch_level_dragged_in_the_split_window_is_one_undo_step_and_the_strip_follows(app):
    panel = app.open_split(0, 1)
    split = _split(app)
    click(panel.branches[0].level, -3.0)
    click(panel.branches[0].level, 0.0)  # the same drag
    app.session.history.seal()
    assert split.branches[0].level_db == 0.0
    assert dpg.get_value(app.strips[0].branch_levels[1][0]) == pytest.approx(0.0)
    app.undo()
    assert split.branches[0].level_db == -6.0 and dpg.get_value(panel.branches[0].level) == pytest.approx(-6.0)


def test_a_split_inside_a_branch_opens_its_own_window_and_the_window_closes_when_its_split_goes(app):
    outer = app.open_split(0, 1)
    click(outer.branches[1].add_plugin)
    app.browser.pick("Gain")
    inner_slot = (1, 1, 0)
    app.make_split(0, inner_slot)  # the Gain run in parallel: a split inside the dry branch
    nested = _split(app).branches[1].chain[0]
    assert isinstance(nested, Split)
    assert dpg.get_item_label(outer.branches[1].names[0]) == "split (split)"
    click(outer.branches[1].names[0])
    inner = app.split_panels[-1]
    assert inner.split is nested and inner.path == inner_slot
    click(inner.branches[0].level, -9.0)
    assert nested.branches[0].level_db == -9.0
    app.remove_slot(0, 1)  # the outer split goes: both windows close
    assert not outer.alive and not inner.alive and app.split_panels == []
    app.undo()
    assert isinstance(app.session.tracks[0].chain[1], Split)


def test_a_panel_of_a_plugin_in_a_branch_offers_no_key_and_its_parallel_button_nests_a_split(app):
    panel = app.open_panel(0, (1, 0, 0))  # the Compressor inside the split
    assert panel.key == 0  # a key inside a split is refused by the graph: no selector
    click(panel.parallel)
    nested = _split(app).branches[0].chain[0]
    assert isinstance(nested, Split) and nested.branches[0].chain[0].name == "Compressor"
    app.undo()
    assert isinstance(_split(app).branches[0].chain[0], Slot)


def test_a_window_edit_inside_a_branch_reaches_a_running_engine_as_a_command_and_a_sync(app):
    """The window's commands, applied by the engine process's handlers to an engine on the same session."""
    signal = program_signal(2, 0.3, seed=5)[:, : BLOCK * 40]
    sent: list = []
    engine_session = Session(sample_rate=SR, block_size=BLOCK)
    engine_session.add_track("drums", ArraySource(signal, SR)).chain = parse_chain(DRUMS)
    engine = _started(engine_session)
    compressor = engine_session.tracks[0].chain[1].branches[0].chain[0].plugin
    # What the window calls on an engine process: its commands are recorded, the strips it follows do not move.
    app.engine = type("Engine", (), {"alive": True, "send": staticmethod(sent.append),
                                     "follow_strips": staticmethod(lambda moved: None)})()
    panel = app.open_panel(0, (1, 0, 0))
    click(panel.controls["ratio"], 2.0)
    click(panel.mix, 0.5)
    click(panel.bypass, True)
    assert sent[:3] == [SetParameter(0, 1, "ratio", 2.0, (0, 0)), Mix(0, 1, 0.5, (0, 0)),
                        Bypass(0, 1, True, (0, 0))]
    for command in sent[:3]:
        apply_command(engine, command)
    inner = engine_session.tracks[0].chain[1].branches[0].chain[0]
    assert inner.plugin is compressor and (inner.mix, inner.bypass) == (0.5, True)
    _run(engine, signal[:, :BLOCK])  # the parameter lands at the next block
    assert compressor.get("ratio") == 2.0
    split_panel = app.open_split(0, 1)
    sent.clear()
    click(split_panel.branches[0].delete[0])  # a structural edit: the whole document
    assert [type(c) for c in sent] == [Sync]
    app.engine = None
    reverb = engine_session.tracks[0].chain[2].plugin
    apply_command(engine, sent[0], SessionLoader("unused", load=session_from_document, resync=resync))
    engine.update()  # the new snapshot, swapped in
    assert len(engine.session.tracks[0].chain[1].branches[0].chain) == 0
    assert engine.session.tracks[0].chain[2].plugin is reverb  # kept running: its tail is not cut
    assert session_to_dict(engine.session)["tracks"][0]["chain"] == session_to_dict(app.session)["tracks"][0]["chain"]
    with pytest.raises(EngineCommandError, match="no slot 0 in a chain of 0.*not synced"):
        apply_command(engine, SetParameter(0, 1, "ratio", 4.0, (0, 0)))


def test_delete_removes_the_plugin_whose_panel_was_opened_last_inside_a_branch(app):
    app.open_panel(0, (1, 0, 0))  # the Compressor in the split: selected
    app.delete_selected_slot()
    assert _split(app).branches[0].is_dry and isinstance(app.session.tracks[0].chain[1], Split)
    app.undo()
    assert _split(app).branches[0].chain[0].name == "Compressor"


def test_a_branch_level_command_reaches_a_split_nested_in_a_branch_by_its_path():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", ArraySource(program_signal(2, 0.1, seed=6), SR)).chain = \
        parse_chain("Gain; [Compressor | [Gain(gain_db=-3) | ] ]")
    engine = _started(session)
    nested = session.tracks[0].chain[1].branches[1].chain[0]
    apply_command(engine, BranchLevel(0, 1, 1, -9.0, (1, 0)))
    assert nested.branches[1].level_db == -9.0
    with pytest.raises(EngineCommandError, match=r"slot 1 \(down \(0, 0\)\) has no branch 0: it is Compressor"):
        apply_command(engine, BranchLevel(0, 1, 0, -9.0, (0, 0)))


def _against_the_reference(engine, expected: float) -> float:
    """Track 0's RMS over track 1's (the same file, no chain): polled until it is ``expected`` (or 20 s went by,
    on a busy machine), then returned for the assertion."""
    deadline = time.monotonic() + 20.0
    while True:
        time.sleep(0.1)
        meters = engine.meters()
        ratio = float(meters[0, 0, 1] / max(meters[1, 0, 1], 1e-9))
        if abs(ratio - expected) < 0.02 * expected or time.monotonic() > deadline:
            return ratio


def test_edits_in_the_split_window_reach_an_engine_process_playing_under_jack(jack_server, tmp_path, wav_file):
    """Two unity branches (a Gain, a dry path) sum to twice the signal; the Gain turned down in its panel
    (a command naming its path) leaves it once; a third branch added in the split window (a sync) makes it twice
    again. Measured against the same file on a plain track."""
    session = Session(sample_rate=SR, block_size=256)
    drums = wav_file(0.2 * program_signal(2, 20.0, seed=8), "drums.wav")
    session.add_track("drums", drums).chain = parse_chain("[Gain(gain_db=0) | ]")
    session.add_track("reference", drums)
    save_session(session, tmp_path / "song.json")
    with built_window(tmp_path / "song.json") as app:
        engine = EngineProcess(SessionLoader(app.document(), load=session_from_document, resync=resync))
        engine.start()
        app.engine = engine
        try:
            engine.send(Play())
            assert _against_the_reference(engine, 2.0) == pytest.approx(2.0, rel=0.02)
            panel = app.open_panel(0, (0, 0, 0))
            click(panel.controls["gain_db"], -60.0)
            assert _against_the_reference(engine, 1.0) == pytest.approx(1.0, rel=0.02)  # one branch heard
            click(app.open_split(0, 0).add_branch)
            assert _against_the_reference(engine, 2.0) == pytest.approx(2.0, rel=0.02)  # two unity paths again
            assert [e for e in engine.poll() if "failed" in e or "died" in e] == []
        finally:
            app.engine = None
            engine.stop()


def test_replace_in_the_panel_of_a_plugin_in_a_branch_puts_the_new_one_in_its_place(app):
    panel = app.open_panel(0, (1, 0, 0))  # the Compressor in the split
    replace = next(i for i in dpg.get_item_children(dpg.get_item_parent(panel.parallel), 1)
                   if dpg.get_item_label(i) == "Replace...")
    click(replace)
    assert dpg.get_item_label(app.browser.window) == "Replace slot 1 on drums"
    app.browser.pick("Gain")
    assert [s.name for s in _split(app).branches[0].chain] == ["Gain"]
    assert [s.name for s in app.session.tracks[0].chain] == ["Gain", "split", "Reverb"]  # the strip's own: as was
    app.undo()
    assert _split(app).branches[0].chain[0].name == "Compressor"


def test_a_splits_name_says_that_a_click_opens_its_window(app):
    tip, text = app.strips[0].slot_tips[1]
    assert "click: its branches" in dpg.get_value(text) and dpg.get_item_configuration(tip)["show"]
    assert not dpg.get_item_configuration(app.strips[0].slot_tips[0][0])["show"]  # a plain slot: no tooltip


def test_a_split_on_a_bus_opens_its_window_and_takes_a_plugin_in_a_branch(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 0.5), "drums.wav")).output = "glue"
    session.add_bus("glue", parse_chain("[BrickwallLimiter | @ -3]"))
    save_session(session, tmp_path / "bus.json")
    with built_window(tmp_path / "bus.json") as rack:
        click(rack.bus_strips[0].slot_buttons[0])
        panel = rack.split_panels[-1]
        assert dpg.get_item_label(panel.window).startswith("glue: split")
        click(panel.branches[1].add_plugin)
        rack.browser.pick("Gain")
        bus_split = rack.session.busses[0].chain[0]
        assert [s.name for s in bus_split.branches[1].chain] == ["Gain"]
        assert [dpg.get_item_label(n) for n in panel.branches[1].names] == ["Gain"]
        rack.undo()
        assert bus_split.branches[1].is_dry
