"""MIDI mappings to a bus's fader, pan and mute, to send levels, and to plug-ins inside a split's branches:
the model offline, files, following edits, the live callback, a real controller through JACK MIDI, the
window's Learn MIDI entries and the command line."""

from __future__ import annotations

import time

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR, program_signal
from gui_driver import built_window
from jack_harness import jack_device

from rackhost.chain import ArraySource, Plugin, Session
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.cli.chain_spec import parse_chain
from rackhost.errors import MidiMappingError
from rackhost.live import LiveEngine
from rackhost.live.commands import BusRow
from rackhost.live.midi_input import MidiSetup
from rackhost.presets import load_session, save_session

BLOCK = 128
BUS_GAIN = MappingTarget(None, "gain", bus=0)
BUS_PAN = MappingTarget(None, "pan", bus=0)
BUS_MUTE = MappingTarget(None, "mute", bus=0)
TRACK_SEND = MappingTarget(0, "send", send="room")
BUS_SEND = MappingTarget(None, "send", bus=0, send="room")
TRACK_BRANCH_GAIN = MappingTarget(0, "parameter", 0, "gain_db", path=(0, 0))  # Gain in branch 0 of the split
BUS_BRANCH_GAIN = MappingTarget(None, "parameter", 0, "gain_db", bus=0, path=(0, 0))


def _session(signal: np.ndarray | None = None) -> Session:
    """drums (a split: a Gain beside a dry branch) into the glue bus (a split likewise), both sending to room."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    source = ArraySource(signal if signal is not None else program_signal(2, 0.5, seed=3), SR)
    drums = session.add_track("drums", source, output="glue")
    drums.chain = parse_chain("[Gain(gain_db=0) | @ -6]")
    drums.add_send("room", -12.0)
    session.add_bus("glue", parse_chain("[Gain(gain_db=0) | @ -6]")).add_send("room", -6.0)
    session.add_bus("room", parse_chain("Gain(gain_db=-3)"))
    return session


def _cc(channel: int, controller: int, value: int) -> bytes:
    return bytes((0xB0 | (channel - 1), controller, value))


def _mapped(session: Session) -> Session:
    for controller, target, low, high in [(1, BUS_GAIN, -20.0, 0.0), (2, BUS_PAN, None, None),
                                          (3, BUS_MUTE, None, None), (4, TRACK_SEND, -30.0, 0.0),
                                          (5, BUS_SEND, -30.0, 0.0), (6, TRACK_BRANCH_GAIN, -24.0, 0.0),
                                          (7, BUS_BRANCH_GAIN, -24.0, 0.0)]:
        session.midi.add(CCMapping(1, controller, target, low, high))
    return session


# -- the model, offline ---------------------------------------------------------------------------------


def test_controllers_move_a_bus_fader_pan_mute_sends_and_plugins_inside_split_branches():
    session = _mapped(_session())
    glue, drums = session.bus("glue"), session.track("drums")
    for controller in range(1, 8):
        session.midi.apply_cc(session, 1, controller, 0)
    assert (glue.gain_db, glue.pan, glue.mute) == (-20.0, -1.0, False)
    assert drums.send("room").level_db == -30.0 and glue.send("room").level_db == -30.0
    assert drums.chain[0].branches[0].chain[0].plugin.get("gain_db") == -24.0
    assert glue.chain[0].branches[0].chain[0].plugin.get("gain_db") == -24.0
    for controller in range(1, 8):
        session.midi.apply_cc(session, 1, controller, 127)
    assert (glue.gain_db, glue.pan, glue.mute) == (0.0, 1.0, True)
    assert drums.send("room").level_db == 0.0 and glue.chain[0].branches[0].chain[0].plugin.get("gain_db") == 0.0
    described = [m.describe(session) for m in session.midi.mappings]
    assert described[:2] == ["channel 1 CC 1 -> bus 'glue' gain", "channel 1 CC 2 -> bus 'glue' pan"]
    assert "channel 1 CC 4 -> track 'drums' send to room" in described
    assert "channel 1 CC 7 -> bus 'glue' Gain.gain_db" in described


def test_bus_send_and_branch_mappings_survive_the_session_file_and_old_targets_read_as_before(tmp_path):
    session = _mapped(_session())
    save_session(session, tmp_path / "s.json")
    assert load_session(tmp_path / "s.json").midi.mappings == session.midi.mappings
    assert MappingTarget(0, "gain").to_dict() == {"track": 0, "kind": "gain"}  # unchanged for track targets
    assert TRACK_BRANCH_GAIN.to_dict() == {"track": 0, "kind": "parameter", "slot": 0, "parameter": "gain_db",
                                           "path": [0, 0]}


@pytest.mark.parametrize("make, message", [
    (lambda: MappingTarget(0, "gain", bus=1), "a track or a bus, not both"),
    (lambda: MappingTarget(None, "send", send="room"), "the master has no sends"),
    (lambda: MappingTarget(0, "send"), "names the bus its send feeds"),
    (lambda: MappingTarget(0, "parameter", 0, "gain_db", path=(0,)), r"\(branch, slot\) pairs"),
    (lambda: MappingTarget(None, "pan", bus=-1), "bus index must be a whole number"),
])
def test_bad_bus_send_and_branch_targets_are_refused_clearly(make, message):
    with pytest.raises(MidiMappingError, match=message):
        make()


def test_mappings_to_a_send_or_branch_that_is_not_there_say_so():
    session = _session()
    session.midi.add(CCMapping(1, 9, MappingTarget(None, "send", bus=0, send="hall")))
    with pytest.raises(MidiMappingError, match="'glue' has no send to 'hall'"):
        session.midi.apply_cc(session, 1, 9, 0)
    with pytest.raises(MidiMappingError, match="split 'split' has no branch 3"):
        MappingTarget(0, "parameter", 0, "gain_db", path=(3, 0)).plugin(session)
    with pytest.raises(MidiMappingError, match="mapping to bus 5, but the session has 2"):
        MappingTarget(None, "gain", bus=4).owner(session)


def test_mappings_follow_a_plugin_moved_in_its_branch_and_a_renamed_bus_and_drop_a_removed_send():
    session = _mapped(_session())
    midi = session.midi
    anchors = midi.anchor(session)
    branch = session.track("drums").chain[0].branches[0].chain
    session.edit.add_slot(branch, Plugin.create("Gain", gain_db=-1.0), 0)  # the mapped Gain is now second
    session.edit.rename_bus(session, session.bus("room"), "hall")
    assert midi.follow(anchors, session) == []
    targets = [m.target for m in midi.mappings]
    assert MappingTarget(0, "parameter", 0, "gain_db", path=(0, 1)) in targets
    assert MappingTarget(0, "send", send="hall") in targets and BUS_GAIN in targets
    anchors = midi.anchor(session)
    session.edit.remove_send(session.track("drums"), "hall")
    session.edit.remove_slot(branch, 1)
    # Each removal dropped its mapping in its own undo step; the window's following finds nothing left to drop.
    assert midi.follow(anchors, session) == []
    assert midi.take_dropped() == ["channel 1 CC 4 -> track 1 send to hall: its send was removed",
                                   "channel 1 CC 6 -> track 1 slot 0 branch 1 slot 1.gain_db: its Gain slot was "
                                   "removed"]
    assert len(midi.mappings) == 5


# -- live: the callback, then a real controller through JACK -----------------------------------------------


def _engine(session: Session) -> LiveEngine:
    engine = LiveEngine(session, midi=MidiSetup().make(session))
    session.reset()
    engine.update()
    engine.play()
    return engine


def _blocks(engine: LiveEngine, count: int) -> np.ndarray:
    import types

    ok = types.SimpleNamespace(input_overflow=False, output_underflow=False)
    out = []
    for _ in range(count):
        outdata = np.zeros((BLOCK, 2), np.float32)
        engine._callback(np.zeros((BLOCK, 2), np.float32), outdata, BLOCK, None, ok)
        out.append(outdata.T.copy())
    return np.concatenate(out, axis=1)


def test_live_a_branch_plugin_moves_at_the_next_block_and_a_bus_fader_and_send_through_the_control_thread():
    session = _mapped(_session())
    engine = _engine(session)
    inner = session.track("drums").chain[0].branches[0].chain[0].plugin
    loud = np.sqrt(np.mean(_blocks(engine, 20)[:, -BLOCK * 10:] ** 2))
    engine.midi.receive(_cc(1, 6, 0))  # the branch's Gain to -24 dB: on the audio thread
    engine.midi.receive(_cc(1, 1, 0))  # the glue bus's fader to -20 dB: on the control thread
    engine.midi.receive(_cc(1, 4, 0))  # the drums' send to -30 dB
    _blocks(engine, 1)
    assert inner.get("gain_db") == -24.0
    assert session.bus("glue").gain_db == 0.0  # not before the control thread took it
    engine.poll()
    assert session.bus("glue").gain_db == -20.0 and session.track("drums").send("room").level_db == -30.0
    quiet = np.sqrt(np.mean(_blocks(engine, 20)[:, -BLOCK * 10:] ** 2))
    assert quiet < loud * 0.2  # the bus fader is heard: well over 14 dB down


@pytest.fixture
def controller(jack_server):
    """A virtual JACK MIDI output ``busctl:controller`` (a hardware controller stand-in)."""
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    port = backend.open_output("controller", virtual=True, client_name="busctl")
    yield port
    port.close()


def _wait(condition, what: str, poll=None, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if poll is not None:
            poll()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_real_controller_through_jack_moves_a_bus_a_send_and_a_branch_plugin_and_learns_a_bus_mute(
        jack_server, controller):
    import mido

    session = _mapped(_session())
    glue, drums = session.bus("glue"), session.track("drums")
    inner = glue.chain[0].branches[0].chain[0].plugin
    engine = LiveEngine(session, device=jack_device(), midi=MidiSetup(("virtual:midi_in",)).make(session))
    engine.start()
    try:
        jack_server.connect("busctl:controller", "rackhost:midi_in")
        controller.send(mido.Message("control_change", channel=0, control=7, value=0))
        _wait(lambda: inner.get("gain_db") == -24.0, "CC 7 to move the Gain inside the bus's split")
        controller.send(mido.Message("control_change", channel=0, control=1, value=0))
        controller.send(mido.Message("control_change", channel=0, control=5, value=127))
        _wait(lambda: glue.gain_db == -20.0 and glue.send("room").level_db == 0.0,
              "CC 1 and 5 to move the bus fader and its send", poll=engine.poll)
        session.midi.arm_learn(MappingTarget(None, "mute", bus=1))  # the room bus's mute
        controller.send(mido.Message("control_change", channel=1, control=20, value=127))
        _wait(lambda: session.midi.learning is None, "learn to bind", poll=engine.poll)
        assert session.midi.mappings[-1] == CCMapping(2, 20, MappingTarget(None, "mute", bus=1))
        controller.send(mido.Message("control_change", channel=1, control=20, value=127))
        _wait(lambda: session.bus("room").mute, "the learned CC to mute the room bus", poll=engine.poll)
        assert drums.send("room").level_db == -12.0  # an unmoved controller leaves its target alone
        stats = engine.stats()
        assert stats.running and not stats.fault
    finally:
        engine.close()


# -- the window and the command line ------------------------------------------------------------------------


def _learn_entry(menu: int) -> object:
    """The action of a right-click menu's Learn MIDI entry."""
    item = next(i for i in dpg.get_item_children(menu, 1) if dpg.get_item_label(i) == "Learn MIDI")
    return dpg.get_item_user_data(item)


def test_right_click_learn_midi_on_a_bus_strip_a_send_and_plugins_in_splits_names_each_target(tmp_path):
    save_session(_session(), tmp_path / "s.json")
    with built_window(tmp_path / "s.json") as app:
        learnt: list[MappingTarget] = []
        app.learn_midi = learnt.append
        glue = app.bus_strips[0]
        for control in ("gain", "pan", "mute"):
            _learn_entry(glue.menus[control])()
        _learn_entry(app.strips[0].menus["mute"])()
        _learn_entry(app.open_panel(BusRow(0), (0, 0, 0)).menus["gain_db"])()  # the Gain inside the bus's split
        _learn_entry(app.open_panel(0, (0, 0, 0)).menus["gain_db"])()
        assert learnt == [BUS_GAIN, BUS_PAN, BUS_MUTE, MappingTarget(0, "mute"), BUS_BRANCH_GAIN,
                          TRACK_BRANCH_GAIN]
        learnt.clear()
        _learn_entry(app.strips[0].routing.sends["room"].menu)()
        _learn_entry(glue.routing.sends["room"].menu)()
        assert learnt == [TRACK_SEND, BUS_SEND]


def test_midi_map_from_the_command_line_takes_busses_sends_and_plugins_inside_splits(tmp_path, capsys):
    from rackhost.cli import main

    s = str(tmp_path / "s.json")
    save_session(_session(), s)
    assert main(["midi", "map", s, "glue:gain", "--cc", "1", "--range", "-20", "0"]) == 0
    assert main(["midi", "map", s, "drums:send:room", "--cc", "4", "--range", "-30", "0"]) == 0
    assert main(["midi", "map", s, "drums:Gain.gain_db", "--cc", "6", "--range", "-24", "0"]) == 0  # in the split
    assert main(["midi", "map", s, "glue:0/0/0.gain_db", "--cc", "7", "--range", "-24", "0"]) == 0
    assert [m.target for m in load_session(s).midi.mappings] == [BUS_GAIN, TRACK_SEND, TRACK_BRANCH_GAIN,
                                                                 BUS_BRANCH_GAIN]
    capsys.readouterr()
    assert main(["midi", "map", s, "glue:send:nowhere", "--cc", "9"]) == 2
    assert "'glue' has no send to 'nowhere'" in capsys.readouterr().err
    assert main(["midi", "map", s, "glue:0/5/0.gain_db", "--cc", "9"]) == 2
    assert "has no branch 5" in capsys.readouterr().err
