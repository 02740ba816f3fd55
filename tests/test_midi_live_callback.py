"""The live engine's MIDI path, with the audio callback called directly (the JACK tests run it for real)."""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_VST3_DIR, SR

from rackhost.chain import Session, render
from rackhost.chain.midi import CCMapping, MappingTarget, MidiSequence
from rackhost.live import LiveEngine
from rackhost.live.commands import MidiLearn
from rackhost.live.midi_input import MidiSetup
from rackhost.live.process import apply_command
from rackhost.presets.apply import preset_from
from rackhost.presets.midi_programs import recall_preset
from rackhost.presets.preset_file import write_preset

BLOCK = 128
OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)
THRESHOLD = MappingTarget(0, "parameter", 0, "threshold_db")


@pytest.fixture(autouse=True)
def vst3(monkeypatch):
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(PROJECT_VST3_DIR))


def _session() -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    synth = session.add_track("synth", instrument="Nekobi")
    synth.chain.add("Compressor", threshold_db=-10)
    session.master.chain.add("Gain")
    return session


def _engine(session: Session) -> LiveEngine:
    engine = LiveEngine(session, midi=MidiSetup(program_loader=recall_preset).make(session))
    session.reset()
    engine.update()
    return engine


def _blocks(engine: LiveEngine, count: int) -> np.ndarray:
    out = []
    for _ in range(count):
        outdata = np.zeros((BLOCK, 2), np.float32)
        engine._callback(np.zeros((BLOCK, 1), np.float32), outdata, BLOCK, None, OK)
        out.append(outdata.T.copy())
    return np.concatenate(out, axis=1)


def _cc(channel: int, controller: int, value: int) -> bytes:
    return bytes((0xB0 | (channel - 1), controller, value))


def test_a_mapped_cc_sets_the_parameter_at_the_next_block():
    session = _session()
    session.midi.add(CCMapping(1, 7, THRESHOLD, -40.0, 0.0))
    engine = _engine(session)
    compressor = session.tracks[0].chain[0].plugin
    engine.midi.receive(_cc(1, 7, 127))
    assert compressor.get("threshold_db") == -10.0  # not before the audio thread drained it
    _blocks(engine, 1)
    assert compressor.get("threshold_db") == 0.0
    engine.midi.receive(_cc(1, 7, 0))
    engine.midi.receive(_cc(2, 7, 127))  # another channel: not mapped
    _blocks(engine, 1)
    assert compressor.get("threshold_db") == -40.0
    assert engine.midi.received == 3


def test_gain_pan_and_mute_go_through_the_control_thread():
    session = _session()
    session.midi.add(CCMapping(1, 10, MappingTarget(0, "pan")))
    session.midi.add(CCMapping(1, 11, MappingTarget(None, "gain"), -20.0, 0.0))
    engine = _engine(session)
    for value in (0, 64, 127):  # only the latest move counts
        engine.midi.receive(_cc(1, 10, value))
    engine.midi.receive(_cc(1, 11, 0))
    _blocks(engine, 1)
    assert session.tracks[0].pan == 0.0
    engine.poll()
    assert session.tracks[0].pan == 1.0 and session.master.gain_db == -20.0


def test_notes_from_the_input_play_the_instrument_track():
    engine = _engine(_session())
    assert not np.any(_blocks(engine, 4))
    engine.midi.receive(bytes((0x90, 45, 100)))
    sound = _blocks(engine, 40)
    assert np.any(sound)
    engine.midi.receive(bytes((0x80, 45, 0)))
    engine.stop()  # sustain and all notes off at the next block
    tail = _blocks(engine, 400)
    assert np.max(np.abs(tail[:, -BLOCK:])) < 1e-4


def test_a_channel_filtered_instrument_ignores_other_channels():
    session = _session()
    session.tracks[0].midi_channel = 2
    engine = _engine(session)
    engine.midi.receive(bytes((0x90, 45, 100)))  # channel 1
    assert not np.any(_blocks(engine, 20))
    engine.midi.receive(bytes((0x91, 45, 100)))  # channel 2
    assert np.any(_blocks(engine, 20))


def test_the_tracks_midi_file_plays_with_the_transport_as_offline():
    seq = MidiSequence.from_messages([(0.01, bytes((0x90, 40, 100))), (0.3, bytes((0x80, 40, 0)))])
    session = _session()
    session.tracks[0].midi = seq
    engine = _engine(session)
    engine.play()
    live = _blocks(engine, 100)
    offline = _session()
    offline.tracks[0].midi = seq
    rendered = render(offline, tail=False).audio
    n = min(live.shape[1], rendered.shape[1])
    np.testing.assert_array_equal(live[:, :n], rendered[:, :n])


def test_learn_binds_the_next_cc_and_reports_it():
    session = _session()
    engine = _engine(session)
    apply_command(engine, MidiLearn(THRESHOLD, -30.0, 0.0))
    engine.midi.receive(_cc(5, 21, 64))
    _blocks(engine, 1)
    events = engine.poll()
    assert any("MIDI learn: channel 5 CC 21 -> track 'synth' Compressor.threshold_db" in e for e in events)
    assert session.midi.mappings == [CCMapping(5, 21, THRESHOLD, -30.0, 0.0)]
    assert engine.midi.learned == session.midi.mappings
    engine.midi.receive(_cc(5, 21, 127))  # the binding reached the audio thread
    _blocks(engine, 1)
    assert session.tracks[0].chain[0].plugin.get("threshold_db") == 0.0


def _big_room(folder) -> Path:
    """A mastering preset file: Reverb then Gain."""
    donor = Session()
    donor.master.chain.add("Reverb", room_size=0.7)
    donor.master.chain.add("Gain", gain_db=-3)
    path = folder / "big-room.json"
    write_preset(preset_from("big room", "mastering", donor.master), path)
    return path


def test_program_change_recalls_a_preset_off_the_audio_thread(tmp_path):
    session = _session()
    session.midi.set_program(1, 9, None, str(_big_room(tmp_path)))
    engine = _engine(session)
    engine.midi.receive(bytes((0xC0, 9)))
    engine.midi.receive(bytes((0xC0, 10)))  # not in the map
    _blocks(engine, 1)
    assert [s.name for s in session.master.chain] == ["Gain"]  # the audio thread only handed it over
    events = engine.poll()
    assert [s.name for s in session.master.chain] == ["Reverb", "Gain"]
    assert any("recalled" in e and "the master" in e for e in events)
    assert any("program change 10 on channel 1: not in the program map" in e for e in events)
    assert np.isfinite(_blocks(engine, 4)).all()


def test_a_program_change_says_which_mappings_its_preset_dropped_and_undo_brings_them_back(tmp_path):
    """The preset's load drops a mapping whose plug-in the new chain has not at its place, in its own undo step:
    the engine still says so."""
    session = _session()
    session.midi.add(CCMapping(1, 30, MappingTarget(None, "parameter", 0, "gain_db")))  # the master's Gain
    session.midi.set_program(1, 9, None, str(_big_room(tmp_path)))
    engine = _engine(session)
    engine.midi.receive(bytes((0xC0, 9)))
    _blocks(engine, 1)
    events = engine.poll()
    assert [s.name for s in session.master.chain] == ["Reverb", "Gain"]
    assert [e for e in events if "MIDI mapping dropped" in e] == [
        "MIDI mapping dropped: channel 1 CC 30 -> master slot 0.gain_db: its Gain slot was removed"], events
    assert session.midi.mappings == [] and session.midi.take_dropped() == []
    session.undo()
    assert session.midi.for_controller(1, 30)[0].target.plugin(session) is session.master.chain[0].plugin


def test_a_mapping_to_a_removed_slot_is_skipped_and_reported():
    session = _session()
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "parameter", 3, "x")))
    engine = _engine(session)
    assert any("MIDI mapping skipped" in e for e in engine.poll())


def test_without_a_midi_system_the_engine_runs_on_unless_midi_is_required(monkeypatch):
    from rackhost.errors import MidiUnavailableError
    from rackhost.live import midi_ports as ports

    # JACK MIDI with no server of that name running (and none started for it): no MIDI system, on any machine.
    monkeypatch.setenv("RACKHOST_MIDI_API", "jack")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"rackhost_no_such_server_{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.setattr(ports, "_chosen", None)
    session = _session()
    with pytest.raises(MidiUnavailableError, match="no MIDI system found"):
        MidiSetup(("virtual:x",)).make(session).open()
    optional = MidiSetup(("virtual:x",), required=False).make(session)
    optional.open()
    assert optional.port_names == [] and "MIDI is off: no MIDI system found" in optional.poll(lambda: None)[0]
