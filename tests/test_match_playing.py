"""Matching from what plays: the last N seconds of a strip's two sides, taken by the audio path into a ring and
measured off the audio thread (rackhost.live.match_tap), in the engine and under a real JACK server."""

from __future__ import annotations

import time

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, file_loader, program_signal
from hypothesis import given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session
from rackhost.chain.audition import Audition
from rackhost.chain.audition_measure import measure_audition
from rackhost.chain.matching import MatchError
from rackhost.live import commands as c
from rackhost.live.match_tap import MatchTap, Played, matched_from_played, played_offsets, tap_frames

CHAIN = (("Gain", {"gain_db": 6.0}), ("ZamCompX2", {"threshold_db": -24.0, "ratio": 4.0}))
SECONDS = 4.0


def _lufs(audio: np.ndarray) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(np.asarray(audio, np.float64).T)


def _session(signal: np.ndarray | None = None, source=None, gain_db: float = 6.0) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    if signal is None and source is None:
        track = session.add_track("mic", None, input=(0, 1))
    else:
        track = session.add_track("mix", source if source is not None else ArraySource(signal, SR))
    for name, values in CHAIN:
        track.chain.add(name, **(dict(values, gain_db=gain_db) if name == "Gain" else values))
    return session


def _expected_offset(signal: np.ndarray, gain_db: float = 6.0) -> float:
    """The chain's matching offset measured offline on the whole file (the signal repeats every 0.5 s, so any
    few seconds of it measure the same)."""
    session = _session(signal, gain_db=gain_db)
    return measure_audition(session, session.tracks[0]).offsets[0]


# -- the ring -----------------------------------------------------------------------


RATE = 1000.0  # a small rate keeps the ring short, so blocks wrap it often


@settings(max_examples=60, deadline=None)
@given(blocks=st.lists(st.integers(1, 700), min_size=1, max_size=30), mono=st.booleans(),
       other=st.booleans(), seconds=st.sampled_from([1.0, 1.5, 2.0]), seed=st.integers(0, 2**16))
def test_the_ring_gives_back_the_last_frames_of_each_side_whatever_the_block_sizes(blocks, mono, other, seconds,
                                                                                     seed):
    rng = np.random.default_rng(seed)
    tap = MatchTap(tap_frames(2.0, RATE), RATE)
    sides = [[], [], []]
    for n in blocks:
        dry = rng.standard_normal((1 if mono else 2, n)).astype(np.float32)
        wet = rng.standard_normal((2, n)).astype(np.float32)
        alt = rng.standard_normal((2, n)).astype(np.float32) if other else None
        tap.write(dry, wet, alt, (0, -1 if other else -2))
        for k, side in enumerate((np.broadcast_to(dry, (2, n)), wet, alt)):
            if side is not None:
                sides[k].append(side)
    played = tap.played(seconds)
    frames = min(sum(blocks), int(seconds * RATE))
    assert played.dry.shape == played.wet.shape == (2, frames)
    np.testing.assert_array_equal(played.dry, np.concatenate(sides[0], axis=1)[:, sum(blocks) - frames :])
    np.testing.assert_array_equal(played.wet, np.concatenate(sides[1], axis=1)[:, sum(blocks) - frames :])
    if other:
        np.testing.assert_array_equal(played.other, np.concatenate(sides[2], axis=1)[:, sum(blocks) - frames :])
    else:
        assert played.other is None
    assert played.setting == "A" and played.compare_slot is None


@settings(max_examples=30, deadline=None)
@given(before=st.integers(1, 3000), after=st.integers(0, 3000), block=st.integers(1, 512))
def test_a_switch_of_setting_starts_the_measured_span_again(before, after, block):
    tap = MatchTap(tap_frames(2.0, RATE), RATE)
    for key, frames, value in (((0, -2), before, 1.0), ((1, -2), after, 2.0)):
        for first in range(0, frames, block):
            n = min(block, frames - first)
            tap.write(np.full((2, n), value, np.float32), np.full((2, n), value, np.float32), None, key)
    played = tap.played(2.0)
    if after:
        assert played.setting == "B" and played.dry.shape[1] == min(after, 2000)
        assert np.all(played.wet == 2.0)  # nothing A played is measured as B
    else:
        assert played.setting == "A"


def test_a_stopped_file_track_leaves_the_ring_alone_and_a_live_input_fills_it():
    class Clock:
        playing = False

    tap = MatchTap(tap_frames(1.0, RATE), RATE)
    tap.always, tap.now = False, Clock()
    tap.write(np.ones((2, 10), np.float32), np.ones((2, 10), np.float32), None, (0, -2))
    assert tap.written == 0
    tap.always = True
    tap.write(np.ones((2, 10), np.float32), np.ones((2, 10), np.float32), None, (0, -2))
    assert tap.written == 10


# -- the measurement ---------------------------------------------------------------------


def test_the_offsets_are_bs1770_integrated_loudness_as_pyloudnorm_measures_it():
    dry = program_signal(2, 5.0)
    wet = dry * 0.5  # 6.02 dB quieter
    other = dry * np.float32(1.5)
    played = Played(dry, wet, other, "A", None, float(SR))
    chain, alt = played_offsets(played)
    assert chain == pytest.approx(_lufs(dry) - _lufs(wet), abs=0.05)
    assert chain == pytest.approx(6.02, abs=0.05)
    assert alt == pytest.approx(_lufs(dry) - _lufs(other), abs=0.05)


def test_a_silent_side_or_too_little_played_is_refused_with_the_reason():
    dry = program_signal(2, 2.0)
    with pytest.raises(MatchError, match="its chain's output had no measurable loudness"):
        played_offsets(Played(dry, np.zeros_like(dry), None, "A", None, float(SR)), where="track 'mix'")
    with pytest.raises(MatchError, match="matching needs at least 0.4 s: play it"):
        played_offsets(Played(dry[:, :100], dry[:, :100], None, "A", None, float(SR)))


def test_the_setting_that_played_gets_the_offset_and_the_other_keeps_its_own():
    played = Played(np.zeros((2, 0)), np.zeros((2, 0)), None, "B", None, float(SR))
    audition = Audition(offsets=(1.0, 2.0))
    assert matched_from_played(audition, played, (5.0, None)).offsets == (1.0, 5.0)
    assert matched_from_played(audition, played, (5.0, None), has_other_setting=False).offsets == (5.0, 5.0)
    both = Played(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 0)), "A", None, float(SR))
    assert matched_from_played(audition, both, (3.0, 4.0)).offsets == (3.0, 4.0)
    slot = Played(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 0)), "A", 1, float(SR))
    compared = Audition(runs_other=True, compare_slot=1)
    new = matched_from_played(compared, slot, (3.0, -2.0))
    assert new.offsets == (3.0, None) and new.other_offset == -2.0  # B never played: still not measured


# -- the engine, block by block -----------------------------------------------------------


def test_the_engine_matches_a_file_track_on_what_it_played_as_the_offline_match_does():
    signal = program_signal(2, 6.0)
    session = _session(signal)
    engine = _started(session)
    tap = engine.listen_for_match(0, SECONDS)
    _run(engine, np.zeros((2, signal.shape[1]), np.float32))
    audition = engine.match_from_playing(0)
    assert tap.played(SECONDS).seconds == pytest.approx(SECONDS, abs=BLOCK / SR)
    assert audition.offsets[0] == pytest.approx(_expected_offset(signal), abs=0.1)
    assert 3.0 <= abs(audition.offsets[0]) <= 10.0  # the chain changes loudness by a few LU
    assert session.tracks[0].audition.offsets == audition.offsets  # kept, and played from the next block


def test_during_a_blind_test_both_settings_run_and_are_measured_over_the_same_frames():
    from rackhost.chain.chain import Chain
    from rackhost.chain.compare import switch

    signal = program_signal(2, 3.0)
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("mix", ArraySource(signal, SR))
    track.chain.add("Gain", gain_db=6.0)
    switch(track)  # B: a quieter gain behind a latent limiter, so the sides differ in latency too
    track.chain = Chain()
    track.chain.add("Gain", gain_db=-3.0)
    track.chain.add("ZaMaximX2", threshold_db=0.0)
    switch(track)  # A plays
    engine = _started(session)
    engine.set_audition(0, Audition(runs_other=True))  # a blind test between A and B runs B beside A
    engine.listen_for_match(0, 2.0)
    _run(engine, np.zeros((2, signal.shape[1]), np.float32))
    played = engine.match_tap(0).played(2.0)
    assert played.other is not None and played.setting == "A" and played.compare_slot is None
    audition = engine.match_from_playing(0)
    assert audition.offsets == pytest.approx((-6.0, 3.0), abs=0.05)  # A and B, each against the same input


def test_the_input_side_taken_is_the_input_aligned_to_the_chain_latency():
    signal = program_signal(2, 2.0)
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("mix", ArraySource(signal, SR)).chain.add("ZaMaximX2")  # 480 frames late
    engine = _started(session)
    engine.listen_for_match(0, 1.0)
    _run(engine, np.zeros((2, signal.shape[1]), np.float32))
    played = engine.match_tap(0).played(1.0)
    end = signal.shape[1] - signal.shape[1] % BLOCK - 480
    np.testing.assert_array_equal(played.dry, signal[:, end - played.dry.shape[1] : end])


def test_matching_an_unlistened_strip_says_how():
    engine = _started(_session(program_signal(2, 1.0)))
    with pytest.raises(MatchError, match="track 'mix' is not listened to for matching; call listen_for_match"):
        engine.match_from_playing(0)


# -- under JACK ----------------------------------------------------------------------


def _engine_process(tmp_path, session: Session, inputs: int):
    from jack_harness import jack_device

    from rackhost.live.process import EngineProcess
    from rackhost.presets import save_session

    path = tmp_path / "s.json"
    save_session(session, path)
    engine = EngineProcess(file_loader(path), device=jack_device(), block_size=BLOCK, input_channels=inputs,
                           partner=False)
    engine.start()
    return engine


def _wait_played(engine, strip, seconds: float) -> None:
    deadline = time.monotonic() + seconds * 4 + 10
    while time.monotonic() < deadline:
        try:
            if engine.played(strip, seconds).seconds >= seconds - 0.01:
                return
        except MatchError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the engine did not keep {seconds} s of what played")


def test_a_file_track_matched_on_the_last_seconds_under_jack_plays_both_sides_equally_loud(jack_server, tmp_path,
                                                                                           wav_file):
    from live_takes import capture_playback

    signal = program_signal(2, 8.0)
    path = wav_file(signal, "mix.wav")
    engine = _engine_process(tmp_path, _session(source=path), 0)
    try:
        engine.listen_for_match(0, SECONDS)
        engine.send(c.Play())
        _wait_played(engine, 0, SECONDS)
        audition = engine.match_from_playing(0, Audition(), other_setting=False)
        assert abs(audition.offsets[0] - _expected_offset(signal)) < 0.3
        heard = {}
        for side in ("chain", "input"):
            engine.send(c.Stop())
            engine.send(c.Locate(0))
            engine.send(c.SetAudition(0, side, True, False, audition.offsets))
            time.sleep(0.2)
            heard[side] = capture_playback(jack_server, lambda: engine.send(c.Play()), 4 * SR)
        assert engine.alive and not [e for e in engine.poll() if "failed" in e]
    finally:
        engine.stop()
    assert _lufs(heard["input"]) > -40.0
    assert abs(_lufs(heard["chain"]) - _lufs(heard["input"])) < 0.2  # the figure


def test_a_live_input_track_and_the_master_it_feeds_refused_offline_are_matched_on_what_they_played(jack_server,
                                                                                                       tmp_path):
    from jack_harness import Player, disconnect_system, find_ports

    signal = program_signal(2, 7.0, seed=4)
    session = _session()
    session.master.chain.add("Gain", gain_db=-3.0)
    with pytest.raises(MatchError, match="has no audio file to measure"):
        measure_audition(session, session.tracks[0])
    with pytest.raises(MatchError, match="no audio file plays into it"):
        measure_audition(session, session.master)
    engine = _engine_process(tmp_path, session, 2)
    try:
        with Player("source", signal) as player:
            disconnect_system("PortAudio")
            for src, dst in zip(player.outputs, find_ports("PortAudio", is_input=True)):
                jack_server.connect(src, dst)
            engine.listen_for_match(0, SECONDS)
            engine.listen_for_match(None, SECONDS)
            time.sleep(0.3)  # the engine listens before the player starts: all it keeps is the signal
            player.play()
            time.sleep(SECONDS + 1.0)
            audition = engine.match_from_playing(0, Audition(), other_setting=False)
            master = engine.match_from_playing(None, Audition(), other_setting=False)
            player.wait(timeout=20)
        assert engine.alive
    finally:
        engine.stop()
    assert abs(audition.offsets[0] - _expected_offset(signal)) < 0.3
    assert audition.offsets[0] == audition.offsets[1]  # no B setting yet: B is a copy of A
    assert master.offsets[0] == pytest.approx(3.0, abs=0.05)  # a master fed by the input alone: its -3 dB chain


# -- the window ----------------------------------------------------------------------

WINDOW = r"""
import json, subprocess, sys, time
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from jack_harness import jack_device

real = RealWindow(sys.argv[1], "rackhost-match", width=1280, height=720)
app = real.app
real.start_engine(jack_device())
strip = app.strips[0]
out = {"before": dpg.get_value(strip.match_over)}
x, y = dpg.get_item_rect_min(strip.match)
subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + 6)), str(int(y + 6)), "click", "3"],
               check=True)
real.frames(6)
items = {dpg.get_item_label(i): i for i in dpg.get_item_children(strip.menus["match"], 1)}
out["menu"] = list(items)
out["menu_shown"] = dpg.is_item_shown(strip.menus["match"])
dpg.get_item_user_data(items["match over the last 5 s played"])()  # a menu item reports no rectangle to click
dpg.hide_item(strip.menus["match"])
real.frames(4)
out["after"] = dpg.get_value(strip.match_over)
app.play()
deadline = time.monotonic() + 60
while not any("over the last" in m for m in app.messages) and time.monotonic() < deadline:
    real.frames(1)
    time.sleep(0.02)
real.settle()
out["messages"] = app.messages[-3:]
out["offsets"] = list(app.session.tracks[0].audition.offsets)
out["label"] = dpg.get_item_label(strip.match)
# B: a copy of A with its Gain at 0 dB, measured once it has played 5 s (not the copy's A offset)
app.switch_ab(0)
real.settle(lambda: app.session.tracks[0].ab.active != "B")
app.set_parameter(0, 0, "gain_db", 0.0)
# What B played before the edit reached the engine was B at +6 dB (a busy machine makes that long): to A and
# back, so B's span starts again after the edit (commands reach the engine in order).
app.switch_ab(0)
real.settle(lambda: app.session.tracks[0].ab.active != "A")
app.switch_ab(0)
real.settle(lambda: app.session.tracks[0].ab.active != "B")
deadline = time.monotonic() + 60
while sum("over the last" in m for m in app.messages) < 2 and time.monotonic() < deadline:
    real.frames(1)
    time.sleep(0.02)
real.settle()
out["b_offsets"] = list(app.session.tracks[0].audition.offsets)
out["b_label"] = dpg.get_item_label(app.strips[0].match)
app.close()
real.close()
print(json.dumps(out))
"""


def test_the_match_switchs_menu_matches_a_track_on_its_last_seconds_played_in_the_window(jack_server, tmp_path,
                                                                                         wav_file):
    from gui_driver import window_output

    from rackhost.presets import save_session

    signal = program_signal(2, 30.0)  # A's 5 s, the switch, B's 5 s, and room for a slow machine's frames
    save_session(_session(source=wav_file(signal, "mix.wav")), tmp_path / "s.json")
    out = window_output("-c", WINDOW, tmp_path / "s.json")
    assert out["before"] == "measured over the loop range" and out["after"] == "measured over the last 5 s played"
    assert out["menu_shown"] and out["menu"][:2] == ["match over the loop range", "match over the last 5 s played"]
    assert any("matched to its input over the last 5.0 s played" in m for m in out["messages"]), out["messages"]
    expected = _expected_offset(signal)
    assert abs(out["offsets"][0] - expected) < 0.3
    assert out["label"] == f"A {out['offsets'][0]:+.1f}"
    a, b = out["b_offsets"]
    assert a == out["offsets"][0]  # A keeps its measurement while B plays
    assert abs(b - _expected_offset(signal, gain_db=0.0)) < 0.3 and b - a > 1.0
    assert out["b_label"] == f"B {b:+.1f}"


def test_a_track_the_partner_process_rendered_comes_back_to_be_listened_to(jack_server, tmp_path, wav_file):
    """With enough file tracks half render in a partner process, whose audio the engine never sees: a track
    listened to for matching renders in the engine process from the next rebuild, so its ring fills."""
    from jack_harness import jack_device

    from rackhost.live.process import EngineProcess
    from rackhost.presets import save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    for k in range(12):
        track = session.add_track(f"t{k}", wav_file(program_signal(2, 6.0, seed=50 + k), f"t{k}.wav"), gain_db=-20.0)
        track.chain.add("Gain", gain_db=-4.0)
    save_session(session, tmp_path / "partnered.json")
    engine = EngineProcess(file_loader(tmp_path / "partnered.json"), device=jack_device(), block_size=BLOCK,
                           input_channels=0, partner=True)
    engine.start()
    try:
        assert "file tracks shared with a partner process" in next((e for e in engine.events if "partner" in e), "")
        engine.listen_for_match(0, 2.0)  # the first lanes are the partner's
        engine.send(c.Play())
        _wait_played(engine, 0, 2.0)
        audition = engine.match_from_playing(0, Audition(), other_setting=False)
        assert engine.alive and not [e for e in engine.poll() if "failed" in e or "stopped" in e]
    finally:
        engine.stop()
    assert audition.offsets[0] == pytest.approx(4.0, abs=0.05)


# -- strips moved or removed while listened to -----------------------------------------------------------------

# Three tones, each behind a gain of its own: a track's matching offset and spectrum peak say which one it is.
TONES = {"low": (500.0, -6.0), "high": (3000.0, 4.0), "mid": (1200.0, 9.0)}


def _tones_session(wav_file, seconds: float = 8.0) -> Session:
    t = np.arange(int(seconds * SR)) / SR
    session = Session(sample_rate=SR, block_size=BLOCK)
    for name, (hz, gain_db) in TONES.items():
        tone = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        session.add_track(name, wav_file(np.stack([tone, tone]), f"{name}.wav")).chain.add("Gain", gain_db=gain_db)
    return session


def _watched_strip(engine, track: int, seconds: float) -> tuple[float, float]:
    """(the matching offset of what ``track``'s ring kept, the spectrum tap's post-chain peak in Hz)."""
    from test_spectrum_view import _peak_hz

    offset, _ = played_offsets(engine.match_tap(track).played(seconds))
    return offset, _peak_hz(engine.spectrum_tap.frames()[1])


def _edits_by_update(engine, session: Session) -> list:
    """Tracks moved and removed in the engine's session, then the engine rebuilt (a LiveEngine's user does so)."""
    def move() -> None:
        session.tracks.insert(0, session.tracks.pop(2))  # mid first: high from 1 to 2
        engine.update()

    def remove() -> None:
        session.remove_track("low")  # high from 2 to 1
        engine.update()

    return [(move, 2), (remove, 1)]


def _edits_by_sync(engine, session: Session) -> list:
    """The same edits as an engine process takes them: a new session document (Sync), strips followed by name."""
    from rackhost.live.process import SessionLoader, apply_command
    from rackhost.presets import session_to_dict
    from rackhost.presets.session_sync import resync, session_from_document

    loader = SessionLoader("unused", load=session_from_document, resync=resync)

    def edit(change) -> None:
        edited = session_from_document(session_to_dict(engine.session))
        change(edited)
        apply_command(engine, c.Sync(session_to_dict(edited)), loader)
        engine.update()

    return [(lambda: edit(lambda s: s.tracks.insert(0, s.tracks.pop(2))), 2),
            (lambda: edit(lambda s: s.remove_track("low")), 1)]


@pytest.mark.parametrize("edits", [_edits_by_update, _edits_by_sync], ids=["update", "sync"])
def test_a_strips_matching_ring_and_spectrum_tap_follow_it_when_tracks_are_moved_or_removed(edits, wav_file):
    session = _tones_session(wav_file)
    engine = _started(session)
    engine.listen_for_match(1, 1.0)  # high: its ring and its spectrum
    engine.watch_spectrum(1)
    ring = engine.match_tap(1)
    _run(engine, np.zeros((2, int(1.5 * SR)), np.float32))
    offset, peak = _watched_strip(engine, 1, 1.0)
    assert offset == pytest.approx(-4.0, abs=0.05) and peak == pytest.approx(3000, rel=0.06)
    for edit, now in edits(engine, session):
        edit()
        assert engine.session.tracks[now].name == "high"
        _run(engine, np.zeros((2, int(1.5 * SR)), np.float32))  # more than the 1 s measured and the tap's ring
        offset, peak = _watched_strip(engine, now, 1.0)
        assert engine.match_tap(now) is ring and engine.spectrum_tap.strip == now
        assert offset == pytest.approx(-4.0, abs=0.05), f"high at {now} measured another track"
        assert peak == pytest.approx(3000, rel=0.06), f"the spectrum of high at {now} shows another track"
        assert engine.match_from_playing(now, 1.0).offsets[0] == pytest.approx(-4.0, abs=0.05)


FOLLOW_WINDOW = r"""
import json, sys, time
import numpy as np
from gui_window import RealWindow
from jack_harness import jack_device
from rackhost.live.match_tap import played_offsets

real = RealWindow(sys.argv[1], "rackhost-follow", width=1280, height=720)
app = real.app
real.start_engine(jack_device())


def run(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        real.frames(1)
        time.sleep(0.02)


def seen(track):  # what the window keeps for the track now at ``track``, and what it measures of it
    view = app.spectrum
    post = view.curves["post"]
    return {"name": app.session.tracks[track].name, "window": app.match_windows.get(track),
            "listening": app.engine.listening(track), "offset": played_offsets(app.engine.played(track, 1.0))[0],
            "view": view.strip, "peak": float(post.frequencies_hz[int(np.argmax(post.level_db))])}


app.set_match_over(1, 1.0)  # high: matched over its last second played, and in the spectrum view
app.open_spectrum(1)
app.play()
run(2.5)
out = {"before": seen(1)}
app.move_track(2, -2)  # mid first: high goes from 1 to 2
run(2.5)
out["moved"] = seen(2)
app.remove_track(1)  # low: high goes from 2 to 1
run(2.5)
out["removed"] = seen(1)
app.measure_audition(1, now=True)
real.settle()
out["matched"] = app.session.tracks[1].audition.offsets[0]
out["events"] = [e for e in app.engine.poll() if "fail" in e]
app.close()
real.close()
print(json.dumps(out))
"""


def test_in_the_window_a_track_moved_or_removed_keeps_its_matching_and_spectrum_on_itself_under_jack(
        jack_server, tmp_path, wav_file):
    from gui_driver import window_output

    from rackhost.presets import save_session

    save_session(_tones_session(wav_file, 30.0), tmp_path / "s.json")
    out = window_output("-c", FOLLOW_WINDOW, tmp_path / "s.json")
    for step, now in (("before", 1), ("moved", 2), ("removed", 1)):
        seen = out[step]
        assert seen["name"] == "high" and seen["window"] == seen["listening"] == 1.0, (step, seen)
        assert seen["offset"] == pytest.approx(-4.0, abs=0.05), (step, seen)  # high's ring, not another track's
        assert seen["view"] == now and seen["peak"] == pytest.approx(3000, rel=0.06), (step, seen)
    assert out["matched"] == pytest.approx(-4.0, abs=0.05) and not out["events"]
