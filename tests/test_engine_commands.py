"""The typed commands between a window and the engine: each one pickles, has a handler, and does what it says.

The engine here is a real :class:`LiveEngine` with real plug-ins, fed through a
real pipe the way the engine process is (``_apply_waiting``); its callback is
called directly where a test needs audio (the JACK tests run the process for real).
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import types

import numpy as np
import pytest
import soundfile as sf
from conftest import PROJECT_VST3_DIR, SR, program_signal

from rackhost.chain import Session
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.live import LiveEngine
from rackhost.live import commands as c
from rackhost.chain.audition import Audition
from rackhost.live.process import HANDLERS, EngineProcess, SessionLoader, _apply_waiting, apply_command
from rackhost.presets import load_session, session_to_dict
from rackhost.presets.session_sync import resync, session_from_document

BLOCK = 256
OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)
MASTER_GAIN = MappingTarget(None, "gain")

# One of each command: a new command without an example here fails test_every_command_has_an_example.
EXAMPLES: dict[type, c.Command] = {
    c.Play: c.Play(), c.Pause: c.Pause(), c.Stop: c.Stop(), c.Record: c.Record("/tmp/takes", "RF64"),
    c.Locate: c.Locate(SR), c.Loop: c.Loop(0, SR), c.Quit: c.Quit(),
    c.SetGain: c.SetGain(None, -6.0), c.SetPan: c.SetPan(1, -0.25), c.SetMute: c.SetMute(0, True),
    c.SetSolo: c.SetSolo(2, False), c.SetParameter: c.SetParameter(0, 1, "mode", "Peak"),
    c.Bypass: c.Bypass(None, 0, True), c.Mix: c.Mix(3, 2, 0.25), c.BranchLevel: c.BranchLevel(0, 1, 2, -6.0),
    c.AddSlot: c.AddSlot(0, "Gain", 1, {"gain_db": -3.0}), c.RemoveSlot: c.RemoveSlot(None, 1),
    c.MoveSlot: c.MoveSlot(0, 2, 0), c.Sync: c.Sync({"version": 1, "tracks": [{"name": "vox"}]}),
    c.MidiLearn: c.MidiLearn(MappingTarget(0, "parameter", 1, "threshold_db"), -30.0, 0.0, "log", True),
    c.MidiCancelLearn: c.MidiCancelLearn(), c.MidiMap: c.MidiMap(CCMapping(1, 7, MASTER_GAIN, -40.0, 0.0)),
    c.MidiUnmap: c.MidiUnmap(CCMapping(16, 0, MappingTarget(2, "pan"), lsb_controller=32)),
    c.MidiProgram: c.MidiProgram(1, 5, None, "master/loud"), c.MidiUnprogram: c.MidiUnprogram(3, 127, 0),
    c.SetSendLevel: c.SetSendLevel(c.BusRow(1), "reverb", -9.5), c.SetSendMute: c.SetSendMute(0, "drums", True),
    c.ResetClips: c.ResetClips(c.BusRow(0)), c.WatchSpectrum: c.WatchSpectrum(1),
    c.SetAudition: c.SetAudition(0, "input", True, False, (-2.5, 1.0)),
    c.SetSlotDelta: c.SetSlotDelta(0, 1, True),
    c.UnwatchSpectrum: c.UnwatchSpectrum(), c.ListenForMatch: c.ListenForMatch(c.BusRow(0), "psm_tap", 10.0),
    c.StopListening: c.StopListening(None),
    c.Release: c.Release(0, c.EnvelopeRef(control="gain_db")),
    c.SetAutomationMode: c.SetAutomationMode(c.BusRow(0), c.EnvelopeRef(slot=1, parameter="_mix"), "latch"),
}


@pytest.fixture(autouse=True)
def vst3(monkeypatch):
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(PROJECT_VST3_DIR))


def commands_in_the_module() -> set[type]:
    """Every class commands.py defines that a parent could send (its bases, enum and error left out)."""
    found = {cls for _, cls in inspect.getmembers(c, inspect.isclass) if cls.__module__ == c.__name__}
    return found - {c.Command, c.OnStrip, c.OnSlot, c.StripValue, c.SendValue, c.Needs, c.EngineCommandError,
                    c.BusRow, c.EnvelopeRef}


def test_every_class_in_commands_is_a_command_and_listed():
    assert all(issubclass(cls, c.Command) for cls in commands_in_the_module())
    assert set(c.command_types()) == commands_in_the_module()


def test_every_command_has_a_handler_in_the_engine():
    # Quit has none on purpose: it ends the engine's command loop before any handler runs.
    missing = commands_in_the_module() - {c.Quit} - set(HANDLERS)
    assert not missing, f"no handler in rackhost.live.process.HANDLERS for {sorted(t.__name__ for t in missing)}"
    assert set(HANDLERS) <= commands_in_the_module()


def test_every_command_has_an_example():
    assert set(EXAMPLES) == commands_in_the_module()


@pytest.mark.parametrize("kind", sorted(EXAMPLES, key=lambda t: t.__name__), ids=lambda t: t.__name__)
def test_every_command_comes_through_a_pipe_equal(kind):
    parent, child = mp.Pipe()
    parent.send(EXAMPLES[kind])
    received = child.recv()
    assert type(received) is kind and received == EXAMPLES[kind]
    assert received.needs == kind.needs


@pytest.mark.parametrize("wrong", ["play", ("set_parameter", 0, 1, "ratio", 4), c.Play, None],
                         ids=["a name", "a tuple", "the class", "None"])
def test_sending_anything_but_a_command_raises_type_error_naming_it(wrong):
    engine = EngineProcess(SessionLoader("unused", load=load_session))
    with pytest.raises(TypeError, match=rf"got {type(wrong).__name__}$"):
        engine.send(wrong)


@pytest.mark.parametrize("make, error, words", [
    (lambda: c.SetPan(None, 0.5), ValueError, "the master has no pan"),
    (lambda: c.SetMute(None, True), ValueError, "the master has no mute"),
    (lambda: c.SetGain("0", -6.0), TypeError, "SetGain's track must be an index"),
    (lambda: c.SetGain(True, -6.0), TypeError, "SetGain's track"),
    (lambda: c.Bypass(0, -1, True), TypeError, "Bypass's slot must be an index"),
    (lambda: c.SetParameter(0, None, "ratio", 4), TypeError, "SetParameter's slot"),
    (lambda: c.Locate(-5), TypeError, "Locate's frame"),
    (lambda: c.Record(""), TypeError, "Record takes the takes' folder"),
    (lambda: c.BusRow(-1), TypeError, "a bus's index must be an index"),
    (lambda: c.SetSendLevel(None, "reverb", -6.0), ValueError, "the master has no sends"),
    (lambda: c.SetSendMute(0, "", True), TypeError, "SetSendMute names the bus the send feeds"),
])
def test_a_malformed_command_fails_where_it_is_made(make, error, words):
    with pytest.raises(error, match=words):
        make()


# -- applied to a real engine ------------------------------------------------------------


@pytest.fixture
def session(wav_file):
    session = Session(sample_rate=SR, block_size=BLOCK)
    drums = session.add_track("drums", wav_file(program_signal(2, 2.0), "drums.wav"))
    drums.chain.add("Compressor", threshold_db=-20)
    drums.chain.add("Gain", gain_db=-6)
    vox = session.add_track("vox", None, input=(0,))
    vox.armed = True
    vox.chain.add("Reverb", room_size=0.3)
    session.master.chain.add("Gain", gain_db=-20)
    session.master.chain.add("Limiter", threshold_db=-1)
    return session


class Fed:
    """A LiveEngine fed through a pipe like the engine process's, counting its audio-state updates."""

    def __init__(self, session: Session):
        self.engine = LiveEngine(session)
        self.engine.update()
        self.calls: list[str] = []
        update, update_mix = self.engine.update, self.engine.update_mix
        self.engine.update = lambda: (self.calls.append("update"), update())[-1]
        self.engine.update_mix = lambda: (self.calls.append("update_mix"), update_mix())[-1]
        self.parent, self.child = mp.Pipe()
        self.loader = SessionLoader("unused", load=session_from_document, resync=resync)

    def send(self, *commands: c.Command) -> list[str]:
        """Apply a batch; returns the events the engine sent back."""
        self.calls.clear()
        for command in commands:
            self.parent.send(command)
        assert _apply_waiting(self.engine, self.child, self.loader)
        assert not self.child.poll(0)
        events = []
        while self.parent.poll(0):
            kind, message = self.parent.recv()
            assert kind == "event"
            events.append(message)
        return events

    def blocks(self, count: int) -> np.ndarray:
        out = []
        for _ in range(count):
            outdata = np.zeros((BLOCK, 2), np.float32)
            self.engine._callback(np.zeros((BLOCK, 1), np.float32), outdata, BLOCK, None, OK)
            out.append(outdata.T.copy())
        return np.concatenate(out, axis=1)


def _names(chain) -> list[str]:
    return [slot.name for slot in chain]


def _synced_without_vox(session: Session) -> dict:
    edited = session_from_document(session_to_dict(session))
    edited.remove_track("vox")
    return session_to_dict(edited)


# (commands applied first, the command under test, what the session shows then, the update it takes)
CASES = {
    "gain of a track": ([], lambda s: c.SetGain(0, -6.0), lambda e: e.session.tracks[0].gain_db == -6.0, "update_mix"),
    "gain of the master": ([], lambda s: c.SetGain(None, -3.0), lambda e: e.session.master.gain_db == -3.0,
                           "update_mix"),
    "pan": ([], lambda s: c.SetPan(1, 0.25), lambda e: e.session.tracks[1].pan == 0.25, "update_mix"),
    "mute": ([], lambda s: c.SetMute(1, True), lambda e: e.session.tracks[1].mute is True, "update_mix"),
    "solo": ([], lambda s: c.SetSolo(0, True), lambda e: e.session.tracks[0].solo is True, "update_mix"),
    "bypass on a track": ([], lambda s: c.Bypass(0, 1, True), lambda e: e.session.tracks[0].chain[1].bypass,
                          "update"),
    "bypass on the master": ([], lambda s: c.Bypass(None, 0, True), lambda e: e.session.master.chain[0].bypass,
                             "update"),
    "mix": ([], lambda s: c.Mix(1, 0, 0.25), lambda e: e.session.tracks[1].chain[0].mix == 0.25, "update"),
    "mix on the master": ([], lambda s: c.Mix(None, 1, 0.5), lambda e: e.session.master.chain[1].mix == 0.5,
                          "update"),
    "add a slot to the master": (
        [], lambda s: c.AddSlot(None, "Gain", 0, {"gain_db": -2.0}),
        lambda e: _names(e.session.master.chain) == ["Gain", "Gain", "Limiter"]
        and e.session.master.chain[0].plugin.get("gain_db") == -2.0, "update"),
    "add a slot last": ([], lambda s: c.AddSlot(1, "Chorus"),
                        lambda e: _names(e.session.tracks[1].chain) == ["Reverb", "Chorus"], "update"),
    "remove a slot": ([], lambda s: c.RemoveSlot(0, 0), lambda e: _names(e.session.tracks[0].chain) == ["Gain"],
                      "update"),
    "remove a master slot": ([], lambda s: c.RemoveSlot(None, 1),
                             lambda e: _names(e.session.master.chain) == ["Gain"], "update"),
    "move a slot": ([], lambda s: c.MoveSlot(0, 0, 1),
                    lambda e: _names(e.session.tracks[0].chain) == ["Gain", "Compressor"], "update"),
    "sync": ([], lambda s: c.Sync(_synced_without_vox(s)),
             lambda e: [t.name for t in e.session.tracks] == ["drums"], "update"),
    "sync keeps a track's audition": (
        [c.SetAudition(0, "input", True, False, (-1.5, 2.0))], lambda s: c.Sync(_synced_without_vox(s)),
        lambda e: [t.name for t in e.session.tracks] == ["drums"]
        and e.session.tracks[0].audition == Audition("input", True, False, (-1.5, 2.0)), "update"),
    "audition": ([], lambda s: c.SetAudition(1, "chain", True, True, (0.0, 0.0)),
                 lambda e: e.session.tracks[1].audition.delta, None),
    "the master's audition": ([], lambda s: c.SetAudition(None, "input", True, False, (-1.0, 0.0)),
                              lambda e: e.session.master.audition.side == "input", None),
    "sync keeps the master's audition": (
        [c.SetAudition(None, "chain", True, True, (-1.5, 2.0))], lambda s: c.Sync(_synced_without_vox(s)),
        lambda e: [t.name for t in e.session.tracks] == ["drums"]
        and e.session.master.audition == Audition("chain", True, True, (-1.5, 2.0)), "update"),
    "play": ([], lambda s: c.Play(), lambda e: e.stats().playing, None),
    "pause": ([c.Play()], lambda s: c.Pause(), lambda e: not e.stats().playing, None),
    "locate": ([], lambda s: c.Locate(SR), lambda e: e.stats().position == SR, None),
    "loop": ([], lambda s: c.Loop(0, SR), lambda e: e._loop == (0, SR), None),
    "loop off": ([c.Loop(0, SR)], lambda s: c.Loop(None), lambda e: e._loop is None, None),
    "midi learn": ([], lambda s: c.MidiLearn(MASTER_GAIN, -30.0, 0.0),
                   lambda e: e.session.midi.learning is not None and e.session.midi.learning.target == MASTER_GAIN
                   and e.session.midi.learning.minimum == -30.0, None),
    "midi cancel learn": ([c.MidiLearn(MASTER_GAIN)], lambda s: c.MidiCancelLearn(),
                          lambda e: e.session.midi.learning is None, None),
    "midi map": ([], lambda s: c.MidiMap(CCMapping(1, 7, MASTER_GAIN)),
                 lambda e: e.session.midi.mappings == [CCMapping(1, 7, MASTER_GAIN)], "update"),
    "midi unmap": ([c.MidiMap(CCMapping(1, 7, MASTER_GAIN))], lambda s: c.MidiUnmap(CCMapping(1, 7, MASTER_GAIN)),
                   lambda e: e.session.midi.mappings == [], "update"),
    "midi program": ([], lambda s: c.MidiProgram(1, 5, None, "master/loud"),
                     lambda e: [(p.channel, p.program, p.track, p.preset) for p in e.session.midi.programs]
                     == [(1, 5, None, "master/loud")], "update"),
    "midi unprogram": ([c.MidiProgram(1, 5, 0, "track/x")], lambda s: c.MidiUnprogram(1, 5, 0),
                       lambda e: e.session.midi.programs == [], "update"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_command_changes_the_engines_session_and_updates_what_it_needs(session, case):
    before, make, shows, update = CASES[case]
    fed = Fed(session)
    for command in before:
        apply_command(fed.engine, command, fed.loader)
    command = make(session)
    assert not shows(fed.engine)
    assert fed.send(command) == []
    assert shows(fed.engine)
    assert fed.calls == ([update] if update else [])


def _routed(session: Session) -> Session:
    """``session`` with the drums routed into a bus with a compressor, and the vox sending to a reverb bus."""
    session.tracks[0].output = "drum bus"
    session.tracks[1].add_send("reverb", -12.0)
    session.add_bus("drum bus").chain.add("Compressor", threshold_db=-10)
    session.add_bus("reverb").chain.add("Reverb", room_size=0.5)
    return session


BUS_CASES = {
    "a bus's fader": (lambda: c.SetGain(c.BusRow(0), -4.5), lambda s: s.busses[0].gain_db == -4.5, "update_mix"),
    "a bus's balance": (lambda: c.SetPan(c.BusRow(1), 0.5), lambda s: s.busses[1].pan == 0.5, "update_mix"),
    "a bus's mute": (lambda: c.SetMute(c.BusRow(1), True), lambda s: s.busses[1].mute, "update_mix"),
    "a bus's solo": (lambda: c.SetSolo(c.BusRow(0), True), lambda s: s.busses[0].solo, "update_mix"),
    "a send's level": (lambda: c.SetSendLevel(1, "reverb", -3.0),
                       lambda s: s.tracks[1].send("reverb").level_db == -3.0, "update_mix"),
    "a send's mute": (lambda: c.SetSendMute(1, "reverb", True), lambda s: s.tracks[1].send("reverb").muted,
                      "update_mix"),
    "a bus slot's bypass": (lambda: c.Bypass(c.BusRow(0), 0, True), lambda s: s.busses[0].chain[0].bypass, "update"),
    "a bus slot added": (lambda: c.AddSlot(c.BusRow(1), "Gain", 0, {"gain_db": -1.0}),
                         lambda s: _names(s.busses[1].chain) == ["Gain", "Reverb"], "update"),
}


@pytest.mark.parametrize("case", BUS_CASES)
def test_a_command_for_a_bus_or_a_send_changes_the_engines_session_and_its_gains(session, case):
    make, shows, update = BUS_CASES[case]
    fed = Fed(_routed(session))
    router = fed.engine._state.snapshot.router
    assert not shows(fed.engine.session)
    assert fed.send(make()) == []
    assert shows(fed.engine.session)
    assert fed.calls == [update]
    if update == "update_mix":  # the same bus chains, new gains
        assert fed.engine._state.snapshot.router.busses is router.busses


def test_a_command_for_a_bus_or_send_that_is_gone_is_reported_naming_it(session):
    fed = Fed(_routed(session))
    events = fed.send(c.SetGain(c.BusRow(5), -3.0), c.SetSendLevel(0, "reverb", -3.0), c.SetGain(0, -2.0))
    assert "no bus 5 in the engine's session, which has 2" in events[0]
    assert "'drums' has no send to 'reverb'" in events[1] and "not synced it yet" in events[1]
    assert fed.engine.session.tracks[0].gain_db == -2.0


def test_stop_after_record_writes_the_armed_tracks_takes(session, tmp_path):
    fed = Fed(session)
    (tmp_path / "takes").mkdir()
    assert fed.send(c.Record(tmp_path / "takes")) == []
    assert fed.engine.stats().recording and fed.engine.stats().playing
    fed.blocks(8)
    assert fed.send(c.Stop()) == []
    assert not fed.engine.stats().recording and not fed.engine.stats().playing
    takes = sorted((tmp_path / "takes").iterdir())
    assert [p.name for p in takes] == ["vox-take001-dry.wav", "vox-take001-wet.wav"]
    assert sf.info(takes[0]).frames == 8 * BLOCK


def test_a_set_parameter_reaches_the_plugin_at_the_next_block(session):
    fed = Fed(session)
    limiter = session.master.chain[1].plugin
    assert fed.send(c.SetParameter(None, 1, "threshold_db", -9.0)) == []
    assert fed.calls == []  # nothing rebuilt: the callback's queue sets it on the running instance
    fed.blocks(1)
    assert limiter.get("threshold_db") == -9.0


def test_commands_reach_the_audio_bypass_of_the_master_gain_and_a_mute(session):
    fed = Fed(session)
    fed.send(c.Bypass(None, 1, True), c.Play())  # the limiter out, so that levels add up
    fed.blocks(40)  # the compressor settles
    fed.send(c.Locate(0))
    quiet = np.sqrt(np.mean(fed.blocks(40) ** 2))
    fed.send(c.Bypass(None, 0, True), c.Locate(0))  # the master's -20 dB gain out of the path, the same audio again
    loud = np.sqrt(np.mean(fed.blocks(40) ** 2))
    assert quiet > 0 and loud / quiet == pytest.approx(10, rel=0.05)
    fed.send(c.SetMute(0, True))
    fed.blocks(4)  # the master limiter's lookahead drains
    assert np.abs(fed.blocks(20)).max() == 0.0


def test_an_unknown_track_or_slot_is_reported_and_the_rest_of_the_batch_applies(session):
    fed = Fed(session)
    events = fed.send(c.SetParameter(0, 9, "ratio", 2.0), c.SetGain(5, -3.0), c.Bypass(None, 4, True),
                      c.SetGain(0, -12.0), c.RemoveSlot(1, 3), c.MoveSlot(0, 7, 0), c.SetPan(1, 0.5))
    slot_gone, track_gone = "the slot was removed, or the engine has not synced it yet", \
        "the track was removed, or the engine has not synced it yet"
    assert events == [
        f"set parameter failed: track 'drums' has no slot 9 (its chain has 2); {slot_gone}",
        f"set gain failed: no track 5 in the engine's session, which has 2; {track_gone}",
        f"bypass failed: the master has no slot 4 (its chain has 2); {slot_gone}",
        f"remove slot failed: track 'vox' has no slot 3 (its chain has 1); {slot_gone}",
        f"move slot failed: track 'drums' has no slot 7 (its chain has 2); {slot_gone}",
    ]
    assert session.tracks[0].gain_db == -12.0 and session.tracks[1].pan == 0.5
    assert _names(session.tracks[0].chain) == ["Compressor", "Gain"] and not session.master.chain[0].bypass
    assert fed.calls == ["update_mix"]  # the failed bypass and slot edits rebuild nothing


def test_a_bad_value_is_reported_by_the_plugin_and_the_engine_goes_on(session):
    fed = Fed(session)
    events = fed.send(c.SetParameter(0, 0, "no_such_knob", 1.0), c.Mix(0, 0, 3.0), c.SetGain(1, -1.0))
    assert len(events) == 2
    assert events[0].startswith("set parameter failed:") and "no_such_knob" in events[0]
    assert events[1].startswith("mix failed:") and "between 0.0 (dry) and 1.0 (wet)" in events[1]
    assert session.tracks[1].gain_db == -1.0


def test_something_other_than_a_command_in_the_pipe_is_reported_not_fatal(session):
    fed = Fed(session)
    events = fed.send(("gain_db", 0, -6.0), c.SetGain(0, -6.0))
    assert len(events) == 1 and "no handler for tuple" in events[0]
    assert session.tracks[0].gain_db == -6.0


def test_quit_ends_the_command_loop(session):
    fed = Fed(session)
    fed.parent.send(c.Quit())
    assert not _apply_waiting(fed.engine, fed.child, fed.loader)
