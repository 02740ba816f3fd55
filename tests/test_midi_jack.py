"""MIDI end to end through a real JACK server: rackhost's MIDI input, CCs, program changes, learn, notes.

The test plays a controller: a virtual JACK MIDI output opened with mido's
``rtmidi/UNIX_JACK`` backend, wired to rackhost's input like any JACK client.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import PROJECT_VST3_DIR, SR, file_loader
from jack_harness import jack_device, run_python

from rackhost.chain import Session
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.live import LiveEngine
from rackhost.live.midi_input import MidiSetup
from rackhost.presets import save_session
from rackhost.presets.apply import preset_from
from rackhost.presets.midi_programs import recall_preset
from rackhost.presets.preset_file import write_preset

THRESHOLD = MappingTarget(0, "parameter", 0, "threshold_db")


@pytest.fixture(autouse=True)
def vst3(monkeypatch):
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(PROJECT_VST3_DIR))


@pytest.fixture
def controller(jack_server):
    """A virtual JACK MIDI output ``testctl:controller`` (a hardware controller stand-in)."""
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    port = backend.open_output("controller", virtual=True, client_name="testctl")
    yield port
    port.close()


def _wait(condition, what: str, timeout: float = 5.0, poll=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if poll is not None:
            poll()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _preset(tmp_path: Path) -> Path:
    donor = Session()
    donor.master.chain.add("Reverb", room_size=0.7)
    donor.master.chain.add("Gain", gain_db=-3)
    path = tmp_path / "big-room.json"
    write_preset(preset_from("big room", "mastering", donor.master), path)
    return path


def _session(tmp_path: Path) -> Session:
    session = Session(sample_rate=SR, block_size=128)
    synth = session.add_track("synth", instrument="Nekobi")
    synth.chain.add("Compressor", threshold_db=-10)
    session.master.chain.add("Gain")
    session.midi.add(CCMapping(1, 7, THRESHOLD, -40.0, 0.0))
    session.midi.set_program(1, 9, None, str(_preset(tmp_path)))
    return session


def test_midi_ports_lists_jack_midi_ports(jack_server, controller):
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['midi', 'ports', '--json']))",
                       server=jack_server)
    assert child.returncode == 0, child.stderr
    ports = json.loads(child.stdout)
    assert ports["api"] == "jack" and "testctl:controller" in ports["inputs"]


@pytest.mark.parametrize("forced", ["jack", " JACK "])
def test_no_midi_system_is_one_clear_line_and_exit_2(forced):
    # JACK MIDI forced, with no server of that name (and none started for it): no MIDI system on any
    # machine, whatever sound card or ALSA sequencer it has.
    env = {"RACKHOST_MIDI_API": forced, "JACK_DEFAULT_SERVER": f"rackhost_test_absent_{os.getpid()}",
           "JACK_NO_START_SERVER": "1"}
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['midi', 'ports']))", env=env)
    assert child.returncode == 2, child.stderr
    assert child.stdout == "" and len(child.stderr.splitlines()) == 1, child.stderr  # libjack's own lines muted
    line = child.stderr.strip()
    assert line.startswith("rackhost: error: no MIDI system found: RACKHOST_MIDI_API=jack forces JACK MIDI, "
                           "which did not answer (")
    assert "start a JACK server (e.g. 'jackd -d dummy'" in line and "or unset RACKHOST_MIDI_API" in line
    assert "ALSA" not in line  # the user chose JACK: the way to another system is to unset the variable
    # and the rest of rackhost does not care
    other = run_python("from rackhost.cli import main; raise SystemExit(main(['plugins', '--names-only']))", env=env)
    assert other.returncode == 0, other.stderr


def test_an_unknown_midi_system_named_in_the_variable_is_one_clear_line():
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['midi', 'ports']))",
                       env={"RACKHOST_MIDI_API": "pipewire"})
    assert child.returncode == 2 and child.stdout == ""
    assert child.stderr.splitlines() == ["rackhost: error: RACKHOST_MIDI_API='pipewire' is not one of jack, alsa, "
                                         "coremidi, winmm; set it to one of them, or unset it to let rackhost pick"]


def test_an_unknown_midi_input_is_refused_with_the_ports_listed(jack_server, controller, tmp_path):
    from rackhost.errors import MidiUnavailableError
    from rackhost.live.midi_ports import open_input

    with pytest.raises(MidiUnavailableError, match="no MIDI input port 'nope'; available: 'testctl:controller'"):
        open_input("nope", print)


def test_ccs_notes_program_change_and_learn_through_jack(jack_server, controller, tmp_path):
    import mido

    session = _session(tmp_path)
    compressor = session.tracks[0].chain[0].plugin
    engine = LiveEngine(session, device=jack_device(), midi=MidiSetup(("virtual:midi_in",), program_loader=recall_preset).make(session))
    engine.start()
    try:
        jack_server.connect("testctl:controller", "rackhost:midi_in")
        # A mapped CC moves the compressor's threshold.
        controller.send(mido.Message("control_change", channel=0, control=7, value=127))
        _wait(lambda: compressor.get("threshold_db") == 0.0, "CC 7 to set the threshold")
        controller.send(mido.Message("control_change", channel=0, control=7, value=0))
        _wait(lambda: compressor.get("threshold_db") == -40.0, "CC 7 to lower the threshold")
        # Notes play the instrument track.
        engine.meters()
        controller.send(mido.Message("note_on", channel=0, note=45, velocity=100))
        _wait(lambda: engine.meters()[0, 0, 0] > 0.01, "the note to sound on the synth track")
        controller.send(mido.Message("note_off", channel=0, note=45))
        # A program change recalls the master preset (loaded on the control thread, then swapped in).
        controller.send(mido.Message("program_change", channel=0, program=9))
        events: list[str] = []
        _wait(lambda: [s.name for s in session.master.chain] == ["Reverb", "Gain"], "the preset to be recalled",
              poll=lambda: events.extend(engine.poll()))
        assert any("recalled" in e for e in events)
        # Learn: the next CC binds to the armed target.
        session.midi.arm_learn(MappingTarget(None, "parameter", 1, "gain_db"), minimum=-12.0, maximum=0.0)
        controller.send(mido.Message("control_change", channel=3, control=21, value=10))
        _wait(lambda: session.midi.learning is None, "learn to bind", poll=lambda: events.extend(engine.poll()))
        assert session.midi.mappings[-1] == CCMapping(4, 21, MappingTarget(None, "parameter", 1, "gain_db"),
                                                      -12.0, 0.0)
        gain = session.master.chain[1].plugin
        controller.send(mido.Message("control_change", channel=3, control=21, value=127))
        _wait(lambda: gain.get("gain_db") == 0.0, "the learned CC to move the gain")
        stats = engine.stats()
        assert stats.running and not stats.fault  # xrun counts are the benchmarks' (bench/live.py, bench/soak.py)
    finally:
        engine.close()


def test_learn_and_program_change_in_the_engine_process(jack_server, controller, tmp_path):
    import mido

    from rackhost.live.commands import MidiLearn
    from rackhost.live.process import EngineProcess

    session = _session(tmp_path)
    save_session(session, tmp_path / "s.json")
    engine = EngineProcess(file_loader(tmp_path / "s.json"), device=jack_device(),
                           midi=MidiSetup(("virtual:midi_in",), program_loader=recall_preset))
    engine.start()
    try:
        jack_server.connect("testctl:controller", "rackhost:midi_in")
        engine.send(MidiLearn(MappingTarget(0, "gain"), -30.0, 0.0))
        time.sleep(0.2)  # the command reaches the child
        controller.send(mido.Message("control_change", channel=0, control=30, value=64))
        _wait(lambda: engine.learned_mappings, "the child to report the learned mapping", poll=engine.poll)
        assert CCMapping.from_dict(engine.learned_mappings[0]) == CCMapping(1, 30, MappingTarget(0, "gain"),
                                                                             -30.0, 0.0)
        controller.send(mido.Message("program_change", channel=0, program=9))
        _wait(lambda: any("recalled" in e for e in engine.events), "the program change", poll=engine.poll)
        _wait(lambda: engine.stats()["callbacks"] > 200, "the engine to keep running", poll=engine.poll)
        assert engine.alive and engine.stats()["running"] == 1.0
        assert any(e.startswith("MIDI in: midi_in") for e in engine.events)
    finally:
        engine.stop()


def test_feedback_sends_mapped_positions_to_an_output(jack_server, controller, tmp_path):
    import mido

    received: list = []
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    leds = backend.open_input("feedback", virtual=True, client_name="testfb", callback=received.append)
    session = _session(tmp_path)
    engine = LiveEngine(session, device=jack_device(),
                        midi=MidiSetup(("virtual:midi_in",), output="testfb:feedback", program_loader=recall_preset).make(session))
    engine.start()
    try:
        _wait(lambda: received, "the first feedback", poll=engine.poll)
        assert received[-1].is_cc(7) and received[-1].value == 95  # -10 dB on -40..0
        engine.set_parameter(session.tracks[0].chain[0].plugin, "threshold_db", -40.0)
        _wait(lambda: received[-1].value == 0, "feedback of a parameter set by the host", poll=engine.poll)
    finally:
        engine.close()
        leds.close()


def test_rackhost_live_midi_in_from_the_command_line(jack_server, controller, tmp_path):
    import subprocess
    import sys

    import mido

    save_session(_session(tmp_path), tmp_path / "s.json")
    env = {**os.environ, **jack_server.env, "RACKHOST_VST3_PATH": str(PROJECT_VST3_DIR)}
    live = subprocess.Popen([sys.executable, "-m", "rackhost.cli", "live", "--session", str(tmp_path / "s.json"),
                             "--midi-in", "virtual:cli_in", "--duration", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        midi_ports = lambda: [p.name for p in jack_server.patchbay.get_ports(is_midi=True)]  # noqa: E731
        _wait(lambda: "rackhost:cli_in" in midi_ports() or live.poll() is not None, "rackhost's MIDI input",
              timeout=30)
        jack_server.connect("testctl:controller", "rackhost:cli_in")
        controller.send(mido.Message("program_change", channel=0, program=9))
        out, err = live.communicate(timeout=30)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-2000:]
    assert "event: MIDI in: cli_in" in out and "event: program change: recalled" in out


def test_rackhost_midi_learn_binds_the_next_controller_and_saves(jack_server, controller, tmp_path):
    import subprocess
    import sys

    import mido

    from rackhost.presets import load_session

    save_session(_session(tmp_path), tmp_path / "s.json")
    env = {**os.environ, **jack_server.env, "RACKHOST_VST3_PATH": str(PROJECT_VST3_DIR)}
    learn = subprocess.Popen([sys.executable, "-m", "rackhost.cli", "midi", "learn", str(tmp_path / "s.json"),
                              "synth:pan", "--midi-in", "testctl", "--timeout", "20"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "move a controller" in learn.stdout.readline()
        controller.send(mido.Message("control_change", channel=5, control=16, value=1))
        out, err = learn.communicate(timeout=30)
    finally:
        if learn.poll() is None:
            learn.kill()
    assert learn.returncode == 0, err[-2000:]
    assert "learned channel 6 CC 16 -> track 'synth' pan" in out
    assert load_session(tmp_path / "s.json").midi.mappings[-1] == CCMapping(6, 16, MappingTarget(0, "pan"))
