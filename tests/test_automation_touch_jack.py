"""Touch, latch and off under a real JACK server: a control moved through the engine's command API (and from
a MIDI controller) while the transport plays overrides its envelope, the sound follows, and the pass is
written into the envelope (thinned, one undo step) where the moves were."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PROJECT_VST3_DIR, SR, program_signal
from jack_harness import Recorder, disconnect_system, find_ports, jack_device
from live_takes import assert_live_equals_offline, clean_take, xruns

from rackhost.chain import ArraySource, Session
from rackhost.chain.automation import (
    Envelope,
    Point,
    SlotTarget,
    StripTarget,
    check_envelope,
    find,
)
from rackhost.chain.automation_write import value_at
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.live import LiveEngine
from rackhost.live.commands import EnvelopeRef, Release, SetGain, SetParameter
from rackhost.live.midi_input import MidiSetup
from rackhost.live.process import apply_command
from rackhost.live.writer import MIDI_RELEASE_SECONDS

LEVEL = 0.5
BLOCK = 128
GAIN = EnvelopeRef(control="gain_db")


@pytest.fixture(autouse=True)
def vst3(monkeypatch):
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(PROJECT_VST3_DIR))


def dc_session(mode: str, on: str = "fader", glide: float = 0.0) -> Session:
    """A stereo file track of constant LEVEL whose fader envelope (``on="fader"``), or a Gain plug-in's
    (``on="plugin"``), falls from 0 dB to -12 dB over 4 s; a touch let go goes back to it over ``glide`` s
    (0: at once, as before glides)."""
    session = Session(sample_rate=SR, block_size=BLOCK, automation_glide=glide)
    track = session.add_track("dc", ArraySource(np.full((2, SR * 5), LEVEL, np.float32), SR))
    target = StripTarget("gain_db") if on == "fader" else SlotTarget(track.chain.add("Gain", gain_db=0.0), "gain_db")
    track.automation.append(check_envelope(track, Envelope(target, (Point(0.0, 0.0), Point(4.0, -12.0)), mode)))
    return session


# How the engine's command API moves each kind of control, and names it to let go.
MOVES = {
    "fader": (lambda value: SetGain(0, value), GAIN),
    "plugin": (lambda value: SetParameter(0, 0, "gain_db", value), EnvelopeRef(slot=0, parameter="gain_db")),
}


def _levels_db(captured: np.ndarray) -> tuple[np.ndarray, int]:
    """The left channel in dB against LEVEL, from the first frame the transport played (transport frame 0)."""
    first = int(np.flatnonzero(np.abs(captured[0]) > 1e-9)[0])
    left = captured[0, first:]
    return 20 * np.log10(np.maximum(np.abs(left), 1e-12) / LEVEL), first


def _capture(jack_server, engine: LiveEngine, seconds: float, gesture) -> np.ndarray:
    """Play from 0 while capturing ``seconds``; ``gesture(engine)`` runs on this (the control) thread meanwhile."""
    with Recorder("capture", 2, frames=int(SR * seconds)) as recorder:
        outputs = find_ports("PortAudio", is_output=True)
        disconnect_system("PortAudio")
        for src, dst in zip(outputs, recorder.inputs):
            jack_server.connect(src, dst)
        recorder.start()
        engine.play()
        gesture(engine)
        recorder.wait(timeout=seconds + 10)
    xruns[0] = recorder.xruns
    return recorder.captured


def _command(engine: LiveEngine, command) -> None:
    if apply_command(engine, command) == 1:
        engine.update_mix()


def _near(frame: int, frames: list[int], span: int = 2 * BLOCK) -> bool:
    return any(abs(frame - f) <= span for f in frames)


@pytest.mark.parametrize("on", sorted(MOVES))
def test_touch_under_jack_plays_the_moves_then_returns_to_the_envelope_which_now_holds_them(jack_server, on):
    moves: list[tuple[int, float]] = []
    result = {}
    move, ref = MOVES[on]

    def ride(engine: LiveEngine) -> None:
        time.sleep(0.5)
        for k in range(25):  # a fader ride from -20 dB to -26 dB in 0.5 s, sent as a window sends a drag
            value = -20.0 - 0.25 * k
            moves.append((engine.stats().position, value))
            _command(engine, move(value))
            time.sleep(0.02)
        time.sleep(0.3)  # held still
        result["release"] = engine.stats().position
        _command(engine, Release(0, ref))
        time.sleep(0.5)
        engine.poll()
        result["stop"] = engine.stats().position
        engine.stop()

    def take():
        moves.clear()
        session = dc_session("touch", on)
        engine = LiveEngine(session, device=jack_device())
        engine.start()
        try:
            captured = _capture(jack_server, engine, 2.0, ride)
            assert engine.stats().fault is None
        finally:
            engine.close()
        return session, captured

    session, captured = clean_take(take)
    db, _ = _levels_db(captured)
    release = result["release"]
    # the sound: the envelope up to the first move, the ride, then the envelope again after the release
    before = np.arange(moves[0][0] - 2 * BLOCK)
    assert db[before] == pytest.approx(-12.0 * before / (4 * SR), abs=0.01)
    assert db[moves[-1][0] + 4 * BLOCK : release - 2 * BLOCK] == pytest.approx(-26.0, abs=1e-3)
    end = min(result["stop"], len(db)) - 2 * BLOCK  # then the transport stopped: silence
    after = np.arange(release + 2 * BLOCK, end)
    assert db[after] == pytest.approx(-12.0 * after / (4 * SR), abs=0.01)
    # the envelope: thinned points where the moves were; it gives the sound that played, frame by frame
    envelope = session.tracks[0].automation[0]
    points = envelope.points
    assert len(points) <= 10  # 25 moves of a straight ride, and the way back
    # near: the test reads the position a block may pass before the engine takes the command
    assert any(-0.5 <= p.time * SR - moves[0][0] <= BLOCK and p.value == -20.0 for p in points), (points, moves[0])
    assert any(-0.5 <= p.time * SR - release <= BLOCK and p.value == pytest.approx(-12.0 * p.time / 4, abs=1e-6)
               for p in points), (points, release)
    jumps = [f for f, _ in moves] + [release]
    frames = np.array([f for f in range(0, end, 97) if not _near(f, jumps)])
    expected = np.array([value_at(points, f / SR) for f in frames])
    riding = (frames > moves[0][0]) & (frames < moves[-1][0])
    # while riding, the sound held each move for 20 ms where the written line glides: one move's step (0.25 dB)
    # and the thinning's 0.1 dB apart at most; anywhere else, the same to a hundredth of a dB
    assert np.max(np.abs(db[frames] - expected)[riding]) < 0.25 + 0.1
    assert np.max(np.abs(db[frames] - expected)[~riding]) < 0.01
    assert session.undo().startswith("write automation (touch)")
    assert envelope.points == (Point(0.0, 0.0), Point(4.0, -12.0))


@pytest.mark.parametrize("on", sorted(MOVES))
def test_a_touch_let_go_under_jack_glides_back_and_the_committed_envelope_renders_what_played(jack_server, on):
    from rackhost.chain import render
    from rackhost.chain.automated import GRID

    glide = 0.25
    result = {}
    move, ref = MOVES[on]

    def ride(engine: LiveEngine) -> None:
        time.sleep(0.4)
        result["move"] = engine.stats().position
        _command(engine, move(-24.0))
        time.sleep(0.3)
        result["release"] = engine.stats().position
        _command(engine, Release(0, ref))
        time.sleep(0.6)
        engine.poll()
        result["stop"] = engine.stats().position
        engine.stop()

    def take():
        session = dc_session("touch", on, glide)
        engine = LiveEngine(session, device=jack_device())
        engine.start()
        try:
            captured = _capture(jack_server, engine, 1.6, ride)
            assert engine.stats().fault is None
        finally:
            engine.close()
        return session, captured

    session, captured = clean_take(take)
    db, _ = _levels_db(captured)
    envelope = session.tracks[0].automation[0]
    held = [p for p in envelope.points if p.value == -24.0]
    start = int(round(held[-1].time * SR))  # where the line leaves the held value: a block after the release
    meet = start + int(glide * SR)
    back = next(p for p in envelope.points if int(round(p.time * SR)) == meet)  # where it meets the envelope
    assert back.value == pytest.approx(-12.0 * meet / (4 * SR)) and 0 <= start - result["release"] <= 3 * BLOCK
    # the sound glides: along the line from -24 dB to the envelope (a plug-in's value set every GRID frames, a
    # fader's every sample), never a step larger than the line's grid step
    line = np.arange(start, meet)
    slope = (back.value + 24.0) / (meet - start)
    assert db[line] == pytest.approx(-24.0 + slope * (line - start), abs=slope * GRID + 1e-3)
    assert np.max(np.abs(np.diff(db[start - 4 * BLOCK : meet + 4 * BLOCK]))) <= slope * GRID + 1e-4
    # the committed envelope renders what played, the glide too (all but the pass's first blocks, as the
    # test's clock reads the move's position a block early or late)
    end = min(result["stop"], len(db)) - 2 * BLOCK
    offline = render(session, tail=False).audio
    heard = np.arange(result["move"] + 3 * BLOCK, end)
    offline_db = 20 * np.log10(np.abs(offline[0, heard]) / LEVEL)
    assert np.max(np.abs(db[heard] - offline_db)) < 1e-3
    assert session.undo().startswith("write automation (touch)")
    assert envelope.points == (Point(0.0, 0.0), Point(4.0, -12.0))


def test_latch_under_jack_writes_from_the_first_move_until_stop(jack_server):
    result = {}

    def ride(engine: LiveEngine) -> None:
        time.sleep(0.4)
        result["move"] = engine.stats().position
        _command(engine, SetGain(0, -18.0))
        time.sleep(0.2)
        _command(engine, Release(0, GAIN))  # a latch is not let go by a release
        time.sleep(0.6)
        result["stop"] = engine.stats().position
        engine.stop()

    def take():
        session = dc_session("latch")
        engine = LiveEngine(session, device=jack_device())
        engine.start()
        try:
            captured = _capture(jack_server, engine, 1.6, ride)
            assert engine.stats().fault is None
        finally:
            engine.close()
        return session, captured

    session, captured = clean_take(take)
    db, _ = _levels_db(captured)
    move, stop = result["move"], result["stop"]
    assert db[move + 2 * BLOCK : stop - 2 * BLOCK] == pytest.approx(-18.0, abs=1e-3)
    points = find(session.tracks[0], StripTarget("gain_db")).points
    assert value_at(points, (move + 2 * BLOCK) / SR) == -18.0 and value_at(points, (stop - BLOCK) / SR) == -18.0
    assert value_at(points, 3.0) == pytest.approx(-9.0)  # after the stop, the envelope as it was
    assert session.undo().startswith("write automation (latch)")


def test_an_envelope_off_plays_the_static_values_live_as_offline(jack_server):
    signal = program_signal(2, 0.8, seed=3)

    def make(source: np.ndarray | None = None) -> Session:
        session = Session(sample_rate=SR, block_size=BLOCK)
        track = session.add_track("in", ArraySource(source, SR) if source is not None else None,
                                  input=() if source is not None else (0, 1), gain_db=-4.0)
        comp = track.chain.add("Compressor", threshold_db=-18.0, ratio=4.0)
        for target, points in ((SlotTarget(comp, "threshold_db"), ((0.0, -3.0), (0.4, -30.0))),
                               (StripTarget("gain_db"), ((0.0, 0.0), (0.6, -20.0)))):
            track.automation.append(check_envelope(track, Envelope(target, tuple(Point(*p) for p in points),
                                                                   "off")))
        return session

    assert_live_equals_offline(jack_server, make, signal, 0)
    on = make(signal)
    for envelope in on.tracks[0].automation:
        envelope.mode = "read"
    from rackhost.chain import render

    assert np.max(np.abs(render(on, tail=False).audio - render(make(signal), tail=False).audio)) > 0.05


def test_a_midi_controller_touching_a_parameter_writes_it_and_lets_go_when_it_stops(jack_server, controller):
    import mido

    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("dc", ArraySource(np.full((2, SR * 5), LEVEL, np.float32), SR))
    gain = track.chain.add("Gain", gain_db=0.0)
    target = SlotTarget(gain, "gain_db")
    track.automation.append(check_envelope(track, Envelope(target, (Point(0.0, 0.0), Point(4.0, -12.0)), "touch")))
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "parameter", 0, "gain_db"), -30.0, 0.0))
    engine = LiveEngine(session, device=jack_device(), midi=MidiSetup(("virtual:midi_in",)).make(session))
    engine.start()
    try:
        jack_server.connect("testctl:controller", "rackhost:midi_in")
        engine.play()
        time.sleep(0.3)
        sent = []
        for value in (20, 60, 30, 50):  # a zigzag: every move is a turn the thinning keeps
            controller.send(mido.Message("control_change", channel=0, control=7, value=value))
            deadline = time.monotonic() + 0.1
            while time.monotonic() < deadline:
                engine.poll()
                time.sleep(0.01)
            sent.append(engine.stats().position)
            assert engine.writing(track, target)
        deadline = time.monotonic() + MIDI_RELEASE_SECONDS + 0.5
        while engine.writing(track, target) and time.monotonic() < deadline:
            engine.poll()
            time.sleep(0.02)
        assert not engine.writing(track, target)  # the controller stood still: the touch ended
        assert engine.stats().fault is None
    finally:
        engine.close()
    points = find(track, target).points
    written = {round(p.value, 3) for p in points}
    for value in (20, 60, 30, 50):
        assert round(-30.0 + 30.0 * value / 127, 3) in written
    assert all(any(abs(p.time * SR - frame) < 0.15 * SR for p in points) for frame in sent)
    assert session.undo().startswith("write automation (touch)")
    assert find(track, target).points == (Point(0.0, 0.0), Point(4.0, -12.0))


@pytest.fixture
def controller(jack_server):
    """A virtual JACK MIDI output ``testctl:controller`` (a hardware controller stand-in)."""
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    port = backend.open_output("controller", virtual=True, client_name="testctl")
    yield port
    port.close()


def test_rackhost_live_saves_what_a_controller_wrote_in_touch_mode_and_the_runs_glide(jack_server, controller, wav_file, tmp_path):
    import json
    import os
    import subprocess
    import sys

    import mido
    from jack_harness import REPO_ROOT, TESTS_DIR

    from rackhost.presets import load_session, save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("dc", wav_file(np.full((2, SR * 8), LEVEL, np.float32), "dc.wav"))
    gain = track.chain.add("Gain", gain_db=0.0)
    track.automation.append(check_envelope(track, Envelope(SlotTarget(gain, "gain_db"), (Point(0.0, 0.0),))))
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "parameter", 0, "gain_db"), -30.0, 0.0))
    path, out = tmp_path / "mix.json", tmp_path / "written.json"
    save_session(session, path)
    env = dict(os.environ, **jack_server.env)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(REPO_ROOT), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-m", "rackhost", "live", "--session", str(path), "--midi-in",
                              "virtual:midi_in", "--duration", "4", "--save-writes", str(out),
                              "--automation-mode", "dc.Gain.gain_db=touch", "--automation-glide", "0.1"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while "rackhost:midi_in" not in jack_server.ports(is_audio=False) and time.monotonic() < deadline:
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        jack_server.connect("testctl:controller", "rackhost:midi_in")
        time.sleep(0.5)
        for value in (10, 100, 60):
            controller.send(mido.Message("control_change", channel=0, control=7, value=value))
            time.sleep(0.15)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, stderr
    assert "automation mode: dc Gain.gain_db: touch" in stdout
    assert "wrote automation (touch) of track 'dc' Gain.gain_db" in stdout
    assert json.loads(out.read_text())["tracks"][0]["automation"][0]["mode"] == "touch"
    assert json.loads(out.read_text())["automation_glide"] == 0.1  # the run's glide is kept with its writes
    written = {round(p.value, 3) for p in load_session(out).tracks[0].automation[0].points}
    assert {round(-30.0 + 30.0 * v / 127, 3) for v in (10, 100, 60)} <= written
