"""In the window: a plug-in with a MIDI controller mapped to it, dragged to another track, keeps its controller
(nothing is said dropped), undo and redo take the controller back and forth with it, and the engine is sent a
document whose slot ids keep each plug-in's running instance. Dropped as Dear PyGui does at the end of a drag
(tests/gui_driver.py: drop), without a display.
"""

from __future__ import annotations

import pytest
from conftest import SR, program_signal
from gui_driver import built_window, drop

from rackhost.chain import Session
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.cli.chain_spec import parse_chain
from rackhost.live.commands import Sync
from rackhost.presets import save_session
from rackhost.presets.session_sync import resync, session_from_document


@pytest.fixture
def app(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav")).chain = \
        parse_chain("Compressor(threshold_db=-40); [Compressor(threshold_db=-40) | ]")
    session.add_track("bass", wav_file(program_signal(2, 1.0, seed=2), "bass.wav")).chain = \
        parse_chain("Gain(gain_db=-3)")
    session.midi.add(CCMapping(1, 20, MappingTarget(0, "parameter", 1, "threshold_db", path=(0, 0))))
    session.midi.add(CCMapping(1, 21, MappingTarget(0, "parameter", 0, "threshold_db")))
    path = tmp_path / "song.json"
    save_session(session, path)
    with built_window(path) as rack:
        yield rack


def test_a_mapped_plugin_dragged_to_another_track_keeps_its_controller_through_undo_and_redo(app):
    sent: list = []
    app.engine = type("Engine", (), {"alive": True, "send": staticmethod(sent.append),
                                     "follow_strips": staticmethod(lambda moved: None),
                                     "stop": staticmethod(lambda: None)})()
    drums, bass = app.session.tracks
    inner = drums.chain[1].branches[0].chain[0]
    engine_session = session_from_document(app.document())  # as the window starts its engine
    running = [slot.plugin for slot in engine_session.tracks[0].chain.plugin_slots()]  # first, inner
    panel = app.open_split(0, 1)
    drop(panel.branches[0].names[0], app.strips[1].slot_buttons[0])  # the inner Compressor before the bass's Gain
    assert bass.chain[0] is inner
    mappings = {m.controller: m.target for m in app.session.midi.mappings}
    assert mappings == {20: MappingTarget(1, "parameter", 0, "threshold_db"),
                        21: MappingTarget(0, "parameter", 0, "threshold_db")}
    assert not any("MIDI" in line or "mapping" in line for line in app.messages), app.messages
    [sync] = [c for c in sent if isinstance(c, Sync)]
    engine_session, _ = resync(engine_session, sync.document)
    # The engine keeps each its own (by name and values the first slot of the document took the inner's).
    assert engine_session.tracks[1].chain[0].plugin is running[1]
    assert engine_session.tracks[0].chain[0].plugin is running[0]
    app.undo()
    assert drums.chain[1].branches[0].chain[0] is inner
    assert {m.controller: m.target for m in app.session.midi.mappings} == {
        20: MappingTarget(0, "parameter", 1, "threshold_db", path=(0, 0)),
        21: MappingTarget(0, "parameter", 0, "threshold_db")}
    app.redo()
    assert {m.controller: m.target for m in app.session.midi.mappings} == mappings
