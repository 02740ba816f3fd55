"""Automation modes live: touch and latch write a control's moves into its envelope (thinned, one undo step),
off leaves the envelope out. The engine's callback is called directly here; tests/test_automation_touch_jack.py
runs the same under a real JACK server."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from conftest import SR
from hypothesis import given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.automation import (
    AutomationError,
    Envelope,
    Point,
    SendTarget,
    SlotTarget,
    StripTarget,
    ValueRange,
    check_envelope,
    find,
)
from rackhost.chain.automation_write import (
    Segment,
    thin,
    value_at,
    write_tolerance,
    written_points,
)
from rackhost.live import LiveEngine
from rackhost.live.commands import (
    EngineCommandError,
    EnvelopeRef,
    Mix,
    Release,
    SetAutomationMode,
    SetGain,
    SetMute,
    SetParameter,
)
from rackhost.live.process import apply_command
from rackhost.presets.session_file import load_session, save_session, session_to_dict

LEVEL = 0.5  # the file track's constant signal: the output is LEVEL times the fader's gain


def _db(gain: float) -> float:
    return 20.0 * math.log10(gain / LEVEL)


def dc_session(mode: str = "touch", seconds: float = 3.0, glide: float = 0.0) -> Session:
    """A stereo file track of constant LEVEL whose fader envelope falls from 0 dB to -12 dB over 2 s; a touch
    let go goes back to it over ``glide`` seconds (0: at once, as before glides)."""
    session = Session(sample_rate=SR, block_size=BLOCK, automation_glide=glide)
    track = session.add_track("dc", ArraySource(np.full((2, int(SR * seconds)), LEVEL, np.float32), SR))
    track.automation.append(check_envelope(track, Envelope(StripTarget("gain_db"),
                                                           (Point(0.0, 0.0), Point(2.0, -12.0)), mode)))
    return session


def _blocks(engine: LiveEngine, count: int) -> np.ndarray:
    return _run(engine, np.zeros((2, BLOCK * count), np.float32))


def _apply(engine: LiveEngine, command) -> None:
    needs = apply_command(engine, command)
    if needs == 2:
        engine.update()
    elif needs == 1:
        engine.update_mix()


GAIN = EnvelopeRef(control="gain_db")


# -- thinning -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False), min_size=2, max_size=3000),
       st.floats(0.01, 2.0, allow_subnormal=False))
def test_thinned_points_stay_within_the_tolerance_of_every_move(steps, tolerance):
    values = np.cumsum(steps)  # a random ride
    times = np.arange(len(values)) * (32 / SR)
    kept = thin(times, values, tolerance)
    assert kept[0] == 0 and kept[-1] == len(values) - 1
    assert np.all(np.diff(kept) > 0)
    assert np.max(np.abs(np.interp(times, times[kept], values[kept]) - values)) <= tolerance + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 0.5, allow_subnormal=False), st.floats(0.0, 6.0, allow_subnormal=False),
                          st.floats(0.0, 6.283, allow_subnormal=False)), min_size=1, max_size=3))
def test_a_ten_second_fader_ride_of_thousands_of_moves_becomes_a_few_points(waves):
    times = np.arange(0, 10.0, 32 / SR)  # a move every 32 samples: 15,000 of them
    # a ride: up to three slow waves (a swell every 2 to 20 s) of up to 6 dB each
    values = -10.0 + sum(a * np.sin(2 * np.pi * f * times + p) for f, a, p in waves)
    tolerance = write_tolerance(ValueRange(-150.0, 12.0, "dB"))
    kept = thin(times, values, tolerance)
    assert len(kept) <= 200  # (a chord within 0.1 dB of an 18 dB swell every 2 s spans 67 ms: 150 points)
    assert np.max(np.abs(np.interp(times, times[kept], values[kept]) - values)) <= tolerance + 1e-9


def test_a_written_segment_replaces_the_envelope_over_its_stretch_and_returns_to_it():
    points = (Point(0.0, 0.0), Point(2.0, -12.0))
    gap = 1 / SR
    moves = tuple((0.5 + k * 0.01, -20.0) for k in range(50))  # held at -20 from 0.5 s to 1.0 s
    out = written_points(points, [Segment(moves, 1.0)], 0.1, gap)
    # the first point, the envelope just before the pass, the pass's first and last frame, back to the envelope
    # at its end, the last point: 50 moves of one value thinned to two
    assert len(out) == 6
    assert out[0] == points[0] and out[-1] == points[-1]
    assert out[1].time == pytest.approx(0.5 - gap) and out[1].value == pytest.approx(-3.0, abs=1e-3)
    assert (out[2].time, out[2].value) == (0.5, -20.0)
    assert out[3].time == pytest.approx(1.0 - gap) and out[3].value == -20.0
    assert out[4].time == 1.0 and out[4].value == pytest.approx(-6.0)
    for t in (0.2, 1.5, 1.9):  # outside the pass, the envelope says what it said
        assert value_at(out, t) == pytest.approx(value_at(points, t))


# -- touch, latch, off, live -------------------------------------------------------------------------


def test_touch_overrides_the_envelope_while_held_then_writes_thinned_points_as_one_undo_step():
    session = dc_session("touch")
    track = session.tracks[0]
    original = find(track, StripTarget("gain_db")).points
    engine = _started(session)
    before = _blocks(engine, 40)
    assert _db(before[0, -1]) == pytest.approx(-12.0 * (39 * BLOCK + BLOCK - 1) / (2 * SR), abs=0.01)
    moves = []
    for k in range(60):  # a ride down from -3 to -21 dB, a move a block
        value = -3.0 - 0.3 * k
        moves.append((engine.stats().position, value))
        _apply(engine, SetGain(0, value))
        out = _blocks(engine, 1)
        assert _db(out[0, -1]) == pytest.approx(value, abs=1e-4)  # the override is what plays
        assert engine.writing(track, StripTarget("gain_db"))
    held = _blocks(engine, 20)
    assert np.allclose([_db(x) for x in held[0, ::BLOCK]], -3.0 - 0.3 * 59, atol=1e-4)  # still held, not moved
    released_at = engine.stats().position
    _apply(engine, Release(0, GAIN))
    after = _blocks(engine, 20)
    expected = -12.0 * released_at / (2 * SR)
    assert _db(after[0, 0]) == pytest.approx(expected, abs=0.01)  # back to the envelope at once
    assert not engine.writing(track, StripTarget("gain_db"))
    points = find(track, StripTarget("gain_db")).points
    assert 4 <= len(points) <= 8  # the straight ride needs its ends, not 60 points
    first_move, last_move = moves[0][0] / SR, moves[-1][0] / SR
    assert any(abs(p.time - first_move) < 2 / SR and p.value == pytest.approx(-3.0) for p in points)
    assert any(abs(p.time - last_move) < 2 / SR and p.value == pytest.approx(-20.7) for p in points)
    written = [p for p in points if first_move - 1e-3 <= p.time <= released_at / SR]
    for frame, value in moves:  # the written points give every move back within the tolerance
        assert value_at(points, frame / SR) == pytest.approx(value, abs=0.1)
    assert written[-1].time == pytest.approx(released_at / SR) and written[-1].value == pytest.approx(expected)
    assert engine.written and engine.written[-1].target == GAIN and engine.written[-1].track == 0
    label = session.undo()
    assert label.startswith("write automation (touch)")
    assert find(track, StripTarget("gain_db")).points == original  # the whole pass in one step


def test_latch_writes_from_the_first_move_until_the_transport_stops():
    session = dc_session("latch")
    track = session.tracks[0]
    engine = _started(session)
    _blocks(engine, 30)
    start = engine.stats().position
    _apply(engine, SetGain(0, -18.0))
    _blocks(engine, 30)
    _apply(engine, Release(0, GAIN))  # letting go does not end a latch
    assert engine.writing(track, StripTarget("gain_db"))
    out = _blocks(engine, 60)
    assert np.allclose([_db(x) for x in out[0, ::BLOCK]], -18.0, atol=1e-4)
    engine.poll()
    stop = engine.stats().position
    engine.stop()
    assert not engine.writing(track, StripTarget("gain_db"))
    points = find(track, StripTarget("gain_db")).points
    assert [p.value for p in points if start / SR <= p.time < stop / SR] == [-18.0, -18.0]
    assert value_at(points, (stop - 1) / SR) == pytest.approx(-18.0)
    assert value_at(points, stop / SR + 0.2) == pytest.approx(-12.0 * (stop / SR + 0.2) / 2)
    assert session.undo().startswith("write automation (latch)")


def test_read_mode_ignores_moves_and_writes_nothing():
    session = dc_session("read")
    engine = _started(session)
    _blocks(engine, 10)
    _apply(engine, SetGain(0, -30.0))
    out = _blocks(engine, 10)
    assert _db(out[0, -1]) > -1.0  # the envelope plays, not the fader
    engine.stop()
    assert not engine.written and not session.history.can_undo


def test_off_mode_plays_the_static_fader_live_as_offline():
    def make() -> Session:
        s = dc_session("off")
        s.tracks[0].gain_db = -7.0
        return s

    live = _blocks(_started(make()), 100)
    offline = render(make(), tail=False).audio
    np.testing.assert_array_equal(live, offline[:, : live.shape[1]])
    assert _db(live[0, -1]) == pytest.approx(-7.0, abs=1e-4)


def test_the_mode_switched_through_the_engine_takes_effect_at_once():
    engine = _started(dc_session("read"))
    _apply(engine, SetAutomationMode(0, GAIN, "off"))
    assert _db(_blocks(engine, 2)[0, -1]) == pytest.approx(0.0, abs=1e-4)  # the track's fader: 0 dB
    _apply(engine, SetAutomationMode(0, GAIN, "touch"))
    _apply(engine, SetGain(0, -9.0))
    assert _db(_blocks(engine, 2)[0, -1]) == pytest.approx(-9.0, abs=1e-4)
    with pytest.raises(ValueError, match="unknown automation mode"):
        SetAutomationMode(0, GAIN, "write")


def test_touch_on_a_plugin_parameter_and_a_wet_dry_writes_both_without_rebuilding_per_move():
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("dc", ArraySource(np.full((2, SR * 2), LEVEL, np.float32), SR))
    gain = track.chain.add("Gain", gain_db=0.0)
    for parameter, points in (("gain_db", (Point(0.0, 0.0),)), ("_mix", (Point(0.0, 1.0),))):
        track.automation.append(check_envelope(track, Envelope(SlotTarget(gain, parameter), points, "touch")))
    engine = _started(session)
    _blocks(engine, 10)
    _apply(engine, SetParameter(0, 0, "gain_db", -6.0))
    state = engine._state
    _apply(engine, Mix(0, 0, 0.5))
    assert engine._state is state  # the held wet/dry plays through the curve: no new chains
    out = _blocks(engine, 10)
    assert out[0, -1] == pytest.approx(LEVEL * (0.5 + 0.5 * 10 ** (-6 / 20)), abs=1e-5)
    engine.stop()
    written = {e.target.parameter: e.points for e in track.automation}
    assert any(p.value == -6.0 for p in written["gain_db"]) and any(p.value == 0.5 for p in written["_mix"])
    assert session.undo().startswith("write automation (touch)")
    assert all(len(e.points) == 1 for e in track.automation)  # both envelopes back in one step


# -- the session file ---------------------------------------------------------------------------


def test_an_envelopes_mode_round_trips_through_the_session_file_and_a_version_7_file_reads(tmp_path):
    session = dc_session("latch")
    path = tmp_path / "s.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] >= 9 and doc["tracks"][0]["automation"][0]["mode"] == "latch"
    assert load_session(path).tracks[0].automation[0].mode == "latch"
    doc["format_version"] = 7
    del doc["tracks"][0]["automation"][0]["mode"]
    path.write_text(json.dumps(doc))
    assert load_session(path).tracks[0].automation[0].mode == "read"
    doc["format_version"] = 9
    doc["tracks"][0]["automation"][0]["mode"] = "write"
    path.write_text(json.dumps(doc))
    with pytest.raises(Exception, match=r"automation\[0\]\.mode.*unknown mode \"write\""):
        load_session(path)


def test_setting_a_mode_is_an_undo_step_and_a_bad_one_is_refused():
    session = dc_session("read")
    envelope = session.tracks[0].automation[0]
    session.edit.set_mode(envelope, "touch")
    assert session_to_dict(session)["tracks"][0]["automation"][0]["mode"] == "touch"
    session.undo()
    assert envelope.mode == "read"
    with pytest.raises(AutomationError, match="unknown mode 'write'; use one of read, touch, latch, off"):
        session.edit.set_mode(envelope, "write")


def test_latch_round_a_loop_writes_where_it_held_each_time_round_and_leaves_the_rest():
    session = dc_session("latch")
    track = session.tracks[0]
    engine = _started(session)
    loop = (0, BLOCK * 100)  # 0.27 s
    engine.set_loop(*loop)
    for _ in range(60):
        _blocks(engine, 1)
        engine.poll()
    _apply(engine, SetGain(0, -15.0))
    for _ in range(80):  # round the loop end and on into the second time round
        out = _blocks(engine, 1)
        assert _db(out[0, -1]) == pytest.approx(-15.0, abs=1e-4)
        engine.poll()
    engine.stop()
    points = find(track, StripTarget("gain_db")).points
    for frame in (BLOCK * 5, BLOCK * 30, BLOCK * 70, BLOCK * 99):  # the first time from the move, the second from 0
        assert value_at(points, frame / SR) == -15.0
    # between the stop (block 40 of the second time round) and the move (block 60 of the first): as it was
    assert value_at(points, BLOCK * 50 / SR) == pytest.approx(-12.0 * BLOCK * 50 / (2 * SR))
    assert value_at(points, 1.0) == pytest.approx(-6.0)  # beyond the loop: the envelope as it was
    assert session.undo().startswith("write automation (latch)")
    assert find(track, StripTarget("gain_db")).points == (Point(0.0, 0.0), Point(2.0, -12.0))


def test_a_mute_touched_while_playing_silences_at_once_and_is_written_as_steps():
    session = dc_session("read")
    track = session.tracks[0]
    track.automation.append(check_envelope(track, Envelope(StripTarget("mute"), (Point(0.0, 0.0),), "touch")))
    engine = _started(session)
    _blocks(engine, 10)
    pressed = engine.stats().position
    _apply(engine, SetMute(0, True))
    assert np.all(_blocks(engine, 10) == 0.0)
    let_go = engine.stats().position
    _apply(engine, Release(0, EnvelopeRef(control="mute")))
    assert np.all(_blocks(engine, 5) > 0.1)
    points = find(track, StripTarget("mute")).points
    assert [p.value for p in points] == [0.0, 0.0, 1.0, 0.0] and {p.shape for p in points[1:]} == {"step"}
    assert not track.mute  # the switch itself was not pressed: only the envelope holds the mute
    assert points[2].time == pressed / SR and points[3].time == let_go / SR


@pytest.mark.parametrize("target", [StripTarget("pan"), "send", "slot", "mix"])
def test_an_envelope_ref_names_each_kind_of_target_and_finds_it_again(target):
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_bus("verb")
    track = session.add_track("t", None, input=(0,))
    gain = track.chain.add("Gain")
    target = {"send": SendTarget(track.add_send("verb", -6.0)), "slot": SlotTarget(gain, "gain_db"),
              "mix": SlotTarget(gain, "_mix")}.get(target, target)
    ref = EnvelopeRef.of(track, target)
    assert ref.target(track) == target
    track.chain.remove(gain)
    if isinstance(target, SlotTarget):
        with pytest.raises(EngineCommandError, match="no slot 0 in a chain of 0"):
            ref.target(track)
    with pytest.raises(ValueError, match="names one target"):
        EnvelopeRef(control="pan", send="verb")


def test_automation_mode_options_set_one_envelope_or_all_and_name_what_is_wrong():
    import argparse

    from rackhost.cli.automate import apply_modes, mode_spec

    session = dc_session("read")
    track = session.tracks[0]
    gain = track.chain.add("Gain")
    track.automation.append(check_envelope(track, Envelope(SlotTarget(gain, "gain_db"), (Point(0.0, 0.0),))))
    assert apply_modes(session, [mode_spec("dc.Gain.gain_db=latch")]) == ["dc Gain.gain_db: latch"]
    assert [e.mode for e in track.automation] == ["read", "latch"]
    apply_modes(session, [mode_spec("off")])
    assert [e.mode for e in track.automation] == ["off", "off"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown mode 'write'; use one of read, touch, latch, off"):
        mode_spec("dc.gain_db=write")
    with pytest.raises(AutomationError, match="no track or bus named 'vox'"):
        apply_modes(session, [mode_spec("vox.gain_db=touch")])
    with pytest.raises(AutomationError, match="dc has no envelope on pan"):
        apply_modes(session, [mode_spec("dc.pan=touch")])


def test_a_move_beyond_the_faders_range_is_held_and_written_at_its_edge():
    session = dc_session("touch")
    engine = _started(session)
    _blocks(engine, 5)
    _apply(engine, SetGain(0, 30.0))  # the fader stops at +12 dB
    assert _db(_blocks(engine, 5)[0, -1]) == pytest.approx(12.0, abs=1e-4)
    _apply(engine, Release(0, GAIN))
    assert max(p.value for p in find(session.tracks[0], StripTarget("gain_db")).points) == 12.0


def test_a_mapped_controller_touching_a_fader_and_a_mute_writes_both_and_lets_go_when_still(monkeypatch):
    from rackhost.chain.midi import CCMapping, MappingTarget
    from rackhost.live import writer
    from rackhost.live.midi_input import MidiSetup

    monkeypatch.setattr(writer, "MIDI_RELEASE_SECONDS", 0.05)  # let go sooner than a hand would
    session = dc_session("touch")
    track = session.tracks[0]
    track.automation.append(check_envelope(track, Envelope(StripTarget("mute"), (Point(0.0, 0.0),), "touch")))
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), -40.0, 0.0))
    session.midi.add(CCMapping(1, 8, MappingTarget(0, "mute")))
    engine = LiveEngine(session, midi=MidiSetup().make(session))
    session.reset()
    engine.update()
    engine.play()
    _blocks(engine, 10)
    engine.midi.receive(bytes((0xB0, 7, 0)))  # the fader all the way down: -40 dB
    _blocks(engine, 1)
    engine.poll()  # the control thread hears of the move: held from the next block
    assert engine.writing(track, StripTarget("gain_db"))
    assert _db(_blocks(engine, 2)[0, -1]) == pytest.approx(-40.0, abs=1e-3)
    engine.midi.receive(bytes((0xB0, 8, 127)))  # mute on
    _blocks(engine, 1)
    engine.poll()
    assert np.all(_blocks(engine, 2) == 0.0) and not track.mute  # written, the switch left alone
    time.sleep(0.1)
    _blocks(engine, 1)
    engine.poll()  # both controls still: let go, the envelopes play again
    assert not engine.writing(track, StripTarget("gain_db")) and not engine.writing(track, StripTarget("mute"))
    assert _db(_blocks(engine, 1)[0, -1]) > -3.0
    assert any(p.value == -40.0 for p in find(track, StripTarget("gain_db")).points)
    assert [p.value for p in find(track, StripTarget("mute")).points].count(1.0) == 1


# -- a touch let go glides back ---------------------------------------------------------------------------

GLIDE = 0.25


def _glide_take(session: Session, move, ref: EnvelopeRef) -> tuple[np.ndarray, int]:
    """Play 30 blocks, move the control to one value, hold it 60 blocks, let go, play 0.5 s: (the output from
    transport frame 0, the transport frame the release came at)."""
    engine = _started(session)
    out = [_blocks(engine, 30)]
    _apply(engine, move)
    out.append(_blocks(engine, 60))
    released = engine.stats().position
    _apply(engine, Release(0, ref))
    out.append(_blocks(engine, int(0.5 * SR) // BLOCK))
    assert not engine.writing(session.tracks[0], find(session.tracks[0], ref.target(session.tracks[0])).target)
    engine.stop()
    return np.concatenate(out, axis=1), released


def test_a_touch_let_go_glides_back_to_the_envelope_in_a_line_over_the_glide_time_and_renders_the_same():
    from rackhost.chain.automated import GRID

    session = dc_session("touch", glide=GLIDE)
    track = session.tracks[0]
    original = find(track, StripTarget("gain_db")).points
    live, released = _glide_take(session, SetGain(0, -20.0), GAIN)
    db = np.array([_db(x) for x in live[0]])
    start, meet = released + BLOCK, released + BLOCK + int(GLIDE * SR)  # the line starts a block after the release
    assert db[released:start] == pytest.approx(-20.0, abs=1e-4)  # still held for that block
    ramp = np.arange(start, meet)
    target = -12.0 * meet / (2 * SR)
    assert db[ramp] == pytest.approx(-20.0 + (target - -20.0) * (ramp - start) / (meet - start), abs=1e-3)
    after = np.arange(meet, live.shape[1])
    assert db[after] == pytest.approx(-12.0 * after / (2 * SR), abs=1e-3)  # the envelope again
    slope = abs(target - -20.0) / (meet - start)
    assert np.max(np.abs(np.diff(db[released - BLOCK : meet + BLOCK]))) <= slope * GRID  # no step: a glide
    # the written points end with the same line, so the envelope renders what played
    points = find(track, StripTarget("gain_db")).points
    assert any(p.time == pytest.approx(start / SR) and p.value == -20.0 for p in points)
    assert any(p.time == pytest.approx(meet / SR) and p.value == pytest.approx(target) for p in points)
    offline = render(session, tail=False).audio[:, : live.shape[1]]
    assert np.max(np.abs(offline - live)) < 1e-6
    assert session.undo().startswith("write automation (touch)")
    assert find(track, StripTarget("gain_db")).points == original  # the pass and its glide, one step


def test_a_touch_on_a_plugin_parameter_glides_back_and_the_committed_envelope_renders_what_played():
    session = Session(sample_rate=SR, block_size=BLOCK)  # the default glide, 0.25 s
    track = session.add_track("dc", ArraySource(np.full((2, SR * 2), LEVEL, np.float32), SR))
    gain = track.chain.add("Gain", gain_db=0.0)
    track.automation.append(check_envelope(track, Envelope(SlotTarget(gain, "gain_db"),
                                                           (Point(0.0, 0.0), Point(2.0, -12.0)), "touch")))
    live, released = _glide_take(session, SetParameter(0, 0, "gain_db", -24.0),
                                 EnvelopeRef(slot=0, parameter="gain_db"))
    db = np.array([_db(x) for x in live[0]])
    middle = released + BLOCK + int(GLIDE * SR) // 2  # half way along the line: half way between the two
    assert db[middle] == pytest.approx((-24.0 + -12.0 * (middle + int(GLIDE * SR) // 2) / (2 * SR)) / 2, abs=0.05)
    offline = render(session, tail=False).audio[:, : live.shape[1]]
    entry = 30 * BLOCK - 1  # the frame before the pass: a render enters a plug-in's pass in a one-frame line
    assert np.max(np.abs(np.delete(offline - live, entry, axis=1))) < 1e-6


def test_a_gliding_curve_plays_exactly_what_the_committed_points_play():
    from rackhost.chain.automated import Curve, Glide

    envelope = Envelope(StripTarget("gain_db"), (Point(0.0, 0.0), Point(1.0, -6.0, "smooth"), Point(2.0, -12.0)))
    release, lead, glide = 30_000, BLOCK, int(GLIDE * SR)
    meet = (release + lead + glide) / SR
    target = value_at(envelope.points, meet)
    moves = ((0.5, -20.0), (0.55, -18.0))
    committed = written_points(envelope.points, [Segment(moves, (release + lead) / SR, (meet, target))],
                               0.1, 1 / SR)
    live = Curve(envelope, SR)
    live.glide = Glide(release, release + lead, release + lead + glide, -18.0, target, live.frames)
    frames = np.arange(release, release + lead + glide + 2 * BLOCK, dtype=np.int64)
    played, rendered = live.at(frames), Curve(Envelope(envelope.target, committed), SR).at(frames)
    assert np.array_equal(played[: lead + glide], rendered[: lead + glide])  # the hold and the line, bit for bit
    assert played[lead + glide :] == pytest.approx(rendered[lead + glide :], abs=1e-9)  # then the envelope
    assert live.constant(release, release + lead) == -18.0 and live.constant(release, release + lead + 1) is None


def test_glide_0_jumps_back_at_once_as_before():
    session = dc_session("touch", glide=0.0)
    live, released = _glide_take(session, SetGain(0, -20.0), GAIN)
    assert _db(live[0, released]) == pytest.approx(-12.0 * released / (2 * SR), abs=1e-3)
    assert np.max(np.abs(render(session, tail=False).audio[:, : live.shape[1]] - live)[:, released + 1:]) < 1e-6


def test_the_glide_time_round_trips_through_the_session_file_and_a_version_10_file_takes_the_default(tmp_path):
    from rackhost.chain.automation_write import GLIDE_SECONDS
    from rackhost.errors import SessionError

    session = dc_session("touch", glide=0.5)
    path = tmp_path / "s.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["automation_glide"] == 0.5 and load_session(path).automation_glide == 0.5
    doc["format_version"] = 10
    del doc["automation_glide"]
    path.write_text(json.dumps(doc))
    assert load_session(path).automation_glide == GLIDE_SECONDS == 0.25
    doc["format_version"] = 11
    doc["automation_glide"] = -1
    path.write_text(json.dumps(doc))
    with pytest.raises(Exception, match=r"automation_glide.*-1.0 s is outside 0\.\.10 s"):
        load_session(path)
    with pytest.raises(SessionError, match="automation glide 'x' s"):
        Session(automation_glide="x")  # type: ignore[arg-type]


def test_a_controller_standing_still_lets_go_with_a_glide_too(monkeypatch):
    from rackhost.chain.automated import GRID
    from rackhost.chain.midi import CCMapping, MappingTarget
    from rackhost.live import writer
    from rackhost.live.midi_input import MidiSetup

    monkeypatch.setattr(writer, "MIDI_RELEASE_SECONDS", 0.05)
    session = dc_session("touch", glide=GLIDE)
    track = session.tracks[0]
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), -40.0, 0.0))
    engine = LiveEngine(session, midi=MidiSetup().make(session))
    session.reset()
    engine.update()
    engine.play()
    out = [_blocks(engine, 10)]
    engine.midi.receive(bytes((0xB0, 7, 0)))  # all the way down: -40 dB
    out.append(_blocks(engine, 1))
    engine.poll()
    out.append(_blocks(engine, 2))
    time.sleep(0.1)
    out.append(_blocks(engine, 1))
    engine.poll()  # still: let go
    assert not engine.writing(track, StripTarget("gain_db"))
    out.append(_blocks(engine, int(0.4 * SR) // BLOCK))
    db = np.array([_db(x) for x in np.concatenate(out, axis=1)[0]])
    points = find(track, StripTarget("gain_db")).points
    start = int(round([p for p in points if p.value == -40.0][-1].time * SR))
    meet = start + int(GLIDE * SR)
    slope = (-12.0 * meet / (2 * SR) + 40.0) / (meet - start)
    assert db[start + (meet - start) // 2] == pytest.approx(-40.0 + slope * (meet - start) / 2, abs=1e-3)
    assert np.max(np.abs(np.diff(db[start - BLOCK : meet + BLOCK]))) <= slope * GRID
    assert session.undo().startswith("write automation (touch)")


def test_the_curves_playing_when_a_touch_is_let_go_glide_as_the_committed_points_until_the_new_state_plays():
    from rackhost.chain.automated import Curve

    session = dc_session("touch", glide=GLIDE)
    track = session.tracks[0]
    engine = _started(session)
    _blocks(engine, 20)
    _apply(engine, SetGain(0, -20.0))
    _blocks(engine, 20)
    playing = [curve for written in engine._writer.passes.values() for curve, _ in written.curves]
    released = engine.stats().position
    _apply(engine, Release(0, GAIN))  # the callback may play the old state a block or two before the new one
    assert playing and all(curve.held is None and curve.glide is not None for curve in playing)
    committed = Curve(find(track, StripTarget("gain_db")), SR)
    frames = np.arange(released, released + BLOCK + int(GLIDE * SR) + 2 * BLOCK, dtype=np.int64)
    for curve in playing:
        assert curve.at(frames) == pytest.approx(committed.at(frames), abs=1e-9)
