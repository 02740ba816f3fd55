"""Keys on track slots: a real ZamCompX2 (its minihost twin) on a music track ducks under a voice track.

Offline, in the callback (one thread, the two-thread spread) and under JACK (an input session, and file tracks
beside the partner process). Runs in its own pytest process (Makefile): it hosts minihost beside pedalboard.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SR, file_loader, program_signal
from jack_harness import align, jack_device
from live_takes import assert_live_equals_offline, capture_playback, clean_take, xruns
from test_live_callback import BLOCK, _run, _started
from test_live_partner import TRACKS, _mix
from test_stems import _stems

from rackhost.chain import ArraySource, Chain, Plugin, Session, render
from rackhost.chain.automation import Envelope, Point, SlotTarget
from rackhost.errors import RoutingLoopError
from rackhost.live import LiveEngine
from rackhost.live.process import partner_starter
from rackhost.live.spread import TrackWorker
from rackhost.presets import load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION

DUCK = {"threshold_db": -40.0, "ratio": 10.0, "attack_ms": 1.0, "release_ms": 50.0, "knee_db": 0.0}


def _music(seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.03 * rng.standard_normal((2, int(SR * seconds)))).astype(np.float32)  # about -30 dBFS: above threshold


def _voice(seconds: float = 1.0, start: float = 0.25, end: float = 0.5) -> np.ndarray:
    voice = np.zeros((1, int(SR * seconds)), np.float32)
    t = np.arange(int(SR * (end - start))) / SR
    voice[0, int(SR * start):int(SR * end)] = 0.5 * np.sin(2 * np.pi * 220 * t)
    return voice


def _level_db(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[:, int(SR * start):int(SR * end)].astype(np.float64)
    return 10 * np.log10(np.mean(part ** 2))


def ducked_track(voice_chain: Chain | None = None, pre_fader: bool = False, keyed: bool = True) -> Session:
    """The voice (second in the session) keys ZamCompX2 on the music track; the voice goes to a muted bus, so
    the master is the music track alone."""
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("music", ArraySource(_music(), SR), chain=Chain([Plugin.create("ZamCompX2", **DUCK)]))
    session.add_track("voice", ArraySource(_voice(), SR), output="vox", chain=voice_chain or Chain())
    session.add_bus("vox", mute=True)
    if keyed:
        session.edit.set_key(session, session.track("music").chain[0], "voice", pre_fader=pre_fader)
    return session


def _first_change(out: np.ndarray, reference: np.ndarray) -> int:
    return int(np.flatnonzero(np.any(np.abs(out - reference) > 1e-4, axis=0))[0])


def test_a_voice_track_ducks_the_music_tracks_compressor_while_it_plays_and_not_before():
    out = render(ducked_track(), tail=False).audio
    music = _music()
    np.testing.assert_array_equal(out[:, : int(SR * 0.25)], music[:, : int(SR * 0.25)])  # untouched before the voice
    assert _level_db(out, 0.3, 0.5) - _level_db(music, 0.3, 0.5) < -20  # the voice 34 dB over threshold at 10:1
    assert _level_db(out, 0.9, 1.0) - _level_db(music, 0.9, 1.0) > -0.5  # released after the voice
    graph = ducked_track().graph()
    assert graph.track_order == (0,) and graph.track_sources == {1}  # the music renders after the voice


def test_the_post_fader_key_follows_the_voice_fader_and_a_pre_fader_key_does_not():
    louder = render(ducked_track(), tail=False).audio
    softer = ducked_track()
    softer.track("voice").gain_db = -20.0
    assert _level_db(render(softer, tail=False).audio, 0.3, 0.5) - _level_db(louder, 0.3, 0.5) == \
        pytest.approx(18, abs=1.5)
    pre = ducked_track(pre_fader=True)
    pre.track("voice").gain_db = -20.0
    np.testing.assert_array_equal(render(pre, tail=False).audio, render(ducked_track(pre_fader=True), tail=False).audio)


def test_a_slow_voice_chain_delays_the_music_so_the_duck_lands_where_the_voice_plays():
    plain = ducked_track()
    slow = ducked_track(Chain([Plugin.create("ZaMaximX2", threshold_db=0.0)]))  # 480 samples of lookahead
    snap = slow.snapshot()
    assert snap.latency == 480 and snap.tracks[0]._wait.delay == 480  # the music's input waits for the key
    music = _music()
    # Within a sample or two (the maximiser shapes the voice a little): unaligned, the duck would land 480 late.
    assert abs(_first_change(render(slow, tail=False).audio, music) -
               _first_change(render(plain, tail=False).audio, music)) <= 2


def test_an_envelope_on_the_keyed_plugin_stays_on_time_when_the_music_waits_for_a_slow_key():
    def released_at_04(voice_chain: Chain | None) -> np.ndarray:
        session = ducked_track(voice_chain)
        comp = session.track("music").chain[0]
        # The duck lets go at 0.4 s, while the voice still plays: the threshold jumps above every key level.
        session.edit.add_envelope(session.track("music"), Envelope(SlotTarget(comp, "threshold_db"), (
            Point(0.0, -40.0, "step"), Point(0.4, 0.0))))
        return render(session, tail=False).audio

    plain = released_at_04(None)
    slow = released_at_04(Chain([Plugin.create("ZaMaximX2", threshold_db=0.0)]))
    assert _level_db(plain, 0.30, 0.39) < _level_db(_music(), 0.30, 0.39) - 20  # ducked until the envelope
    # How far the release has come 5 and 10 ms after the envelope, against the steady duck before it (the maximised
    # voice ducks 2.4 dB deeper throughout). Played on the music's unwaited time, it would let go 10 ms early (7.5
    # dB up at 5 ms where on time is 2.2: measured).
    for end in (0.405, 0.410):
        risen = [_level_db(out, 0.400, end) - _level_db(out, 0.380, 0.390) for out in (plain, slow)]
        assert risen[1] == pytest.approx(risen[0], abs=1.0)


@pytest.mark.parametrize("source", ["voice", "vox"])
def test_the_stem_of_a_track_waiting_for_a_slow_key_lines_up_with_the_mix(tmp_path, source):
    session = ducked_track(Chain([Plugin.create("ZaMaximX2", threshold_db=0.0)]), keyed=False)
    session.add_bus("sink", mute=True)
    session.bus("vox").mute, session.bus("vox").output = False, "sink"
    session.edit.set_key(session, session.track("music").chain[0], source)
    mix, stems = _stems(tmp_path, session, tail=False)
    np.testing.assert_array_equal(stems["music"], mix)  # the master hears the music alone


def test_a_track_keyed_by_a_keyed_track_renders_after_it():
    session = ducked_track()
    session.add_track("talk", ArraySource(_voice(start=0.1, end=0.2), SR), output="vox")
    session.track("voice").chain.add(Plugin.create("ZamCompX2", **DUCK))
    session.edit.set_key(session, session.track("voice").chain[0], "talk")  # talk ducks the voice, which ducks music
    graph = session.graph()
    assert graph.track_order == (1, 0) and graph.track_sources == {1, 2}
    assert session.snapshot().render_order() == ((2,), (1, 0))


def test_tracks_keying_each_other_and_a_track_keyed_by_a_bus_it_feeds_are_refused_naming_the_loop():
    session = ducked_track()
    session.track("voice").chain.add(Plugin.create("ZamCompX2"))
    with pytest.raises(RoutingLoopError, match=r"routing loop: music -\(key\)-> voice -\(key\)-> music; a track "
                                               r"cannot hear a key from itself"):
        session.edit.set_key(session, session.track("voice").chain[0], "music")
    with pytest.raises(RoutingLoopError, match=r"routing loop: voice -\(key\)-> voice"):
        session.edit.set_key(session, session.track("voice").chain[0], "voice")
    with pytest.raises(RoutingLoopError, match=r"routing loop: voice -> vox -\(key\)-> voice"):
        session.edit.set_key(session, session.track("voice").chain[0], "vox")
    assert session.track("voice").chain[0].key is None and session.track("music").chain[0].key.source == "voice"
    assert len(render(session, tail=False).audio[0]) == SR  # the session still renders


def test_a_voice_bus_ducks_the_music_track_which_runs_after_that_bus():
    session = ducked_track(keyed=False)
    session.add_bus("sink", mute=True)  # the voice is heard nowhere, and its bus still keys
    session.bus("vox").mute, session.bus("vox").output = False, "sink"
    session.edit.set_key(session, session.track("music").chain[0], "vox")
    graph = session.graph()
    assert graph.late == (0,) and graph.order.index(0) > graph.order.index(graph.tracks)  # music after vox
    assert session.snapshot().render_order() == ((1,), ())  # the router renders the music among the busses
    np.testing.assert_array_equal(render(session, tail=False).audio, render(ducked_track(), tail=False).audio)


def test_setting_a_track_key_is_one_undo_step_and_the_file_keeps_it_at_the_same_version(tmp_path):
    session = ducked_track()
    slot = session.track("music").chain[0]
    session.undo()
    assert slot.key is None
    # Unkeyed, ZamCompX2's detector hears the music: compressed from the start, the same with or without the voice.
    unkeyed = render(ducked_track(keyed=False), tail=False).audio
    np.testing.assert_array_equal(render(session, tail=False).audio, unkeyed)
    session.redo()
    assert slot.key.source == "voice"
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    # The key already had its place on any slot: the same format, which older rackhosts read (and refused).
    assert doc["format_version"] == FORMAT_VERSION and doc["tracks"][0]["chain"][0]["key"]["source"] == "voice"
    loaded = load_session(tmp_path / "s.json")
    assert loaded.track("music").chain[0].key.source == "voice" and loaded.graph().track_order == (0,)


# -- live ---------------------------------------------------------------------------------------------------------


def _keyed(signal: np.ndarray | None = None) -> Session:
    """Music (input 1) ducked on its own track by the voice (input 2, through ZaMaximX2's 480 samples, so the
    music waits for the key); offline, ``signal`` plays what the inputs hear."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    if signal is None:
        music = session.add_track("music", None, input=(0,))
        voice = session.add_track("voice", None, input=(1,), output="vox", gain_db=-3.0)
    else:
        music = session.add_track("music", ArraySource(signal[:1], SR))
        voice = session.add_track("voice", ArraySource(signal[1:], SR), output="vox", gain_db=-3.0)
    music.chain.add("ZamCompX2", threshold_db=-40.0, ratio=10.0, attack_ms=1.0, release_ms=50.0)
    voice.chain.add("ZaMaximX2", threshold_db=0.0)
    session.add_bus("vox", gain_db=-6.0)
    session.edit.set_key(session, music.chain[0], "voice")
    return session


def _signal(seconds: float = 1.0) -> np.ndarray:
    music = program_signal(1, seconds, seed=11) * 0.5
    n = music.shape[1]
    bursts = (np.sin(np.arange(n) * 2 * np.pi * 3 / SR) > 0.3).astype(np.float32)
    voice = (0.5 * np.sin(np.arange(n) * 2 * np.pi * 220 / SR) * bursts).astype(np.float32)
    return np.concatenate([music, voice[None]]).astype(np.float32)


def _bus_keyed(signal: np.ndarray | None = None) -> Session:
    """As :func:`_keyed`, the music keyed from the voice's bus instead (the bus runs first, then the music)."""
    session = _keyed(signal)
    session.edit.set_key(session, session.track("music").chain[0], "vox")
    return session


@pytest.mark.parametrize("make", [_keyed, _bus_keyed], ids=["from a track", "from a bus"])
def test_the_callback_plays_a_keyed_track_as_the_offline_render_to_the_sample(make):
    signal = _signal()[:, : BLOCK * 300]
    live = _run(_started(make()), signal)
    offline = render(make(signal), tail=False).audio
    np.testing.assert_array_equal(live[:, 480:], offline[:, : live.shape[1] - 480])
    unkeyed = make(signal)
    unkeyed.edit.set_key(unkeyed, unkeyed.track("music").chain[0], None)
    assert not np.allclose(render(unkeyed, tail=False).audio, offline, atol=1e-3)  # the key made a difference


def test_with_a_second_audio_thread_the_keyed_track_still_renders_after_its_key():
    """Ten tracks: eight shared between the callback and the worker, then the voice's key into the music."""
    signal = _signal()[:, : BLOCK * 200]

    def make(live: bool) -> Session:
        session = _keyed(None if live else signal)
        for k in range(8):
            extra = program_signal(1, 1.0, seed=40 + k)[:, : BLOCK * 200] * 0.1
            session.add_track(f"x{k}", ArraySource(extra, SR)).chain.add("Compressor", threshold_db=-20.0)
        return session

    engine = _started(make(True))
    assert engine._state.share is not None and engine._state.share.numbers == tuple(range(1, 10))
    assert engine._state.last == (0,)
    worker = TrackWorker()
    worker.start()
    engine._worker = worker
    try:
        live = _run(engine, signal)
    finally:
        engine._worker = None
        worker.stop()
    assert worker.fault is None
    offline = render(make(False), tail=False).audio
    np.testing.assert_array_equal(live[:, 480:], offline[:, : live.shape[1] - 480])


@pytest.mark.parametrize("make", [_keyed, _bus_keyed], ids=["from a track", "from a bus"])
def test_live_output_of_a_keyed_track_equals_the_offline_render(jack_server, make):
    assert_live_equals_offline(jack_server, make, _signal(1.0), latency=480)


def test_file_tracks_beside_the_partner_keep_a_keyed_track_and_its_key_in_the_engine(jack_server, tmp_path,
                                                                                      wav_file):
    path = tmp_path / "keyed.json"
    session = load_session(_mix(tmp_path, wav_file))
    session.edit.set_key(session, session.track("t0").chain[2], "t1")  # t0's ZamCompX2 hears t1 (with a reverb)
    session.track("t0").chain[2].plugin.set("threshold_db", -40.0)
    save_session(session, path)
    frames = SR + 60 * BLOCK

    def take():
        engine = LiveEngine(load_session(path), device=jack_device(), input_channels=0,
                            partner=partner_starter(file_loader(path)))
        engine.start()
        try:
            partner = engine._state.partner
            assert partner is not None and 0 not in partner.lanes and 1 not in partner.lanes
            assert len(partner.lanes) == TRACKS // 2 and engine._state.numbers[-1] == 0  # t0 last
            captured = capture_playback(jack_server, engine.play, frames)
            stats = engine.stats()
            assert stats.fault is None and stats.running
            xruns[0] += engine._partner.late
        finally:
            engine.close()
        return captured

    captured = clean_take(take)
    offline = render(load_session(path), tail=False)
    _, aligned = align(offline.audio, captured)
    np.testing.assert_allclose(aligned, offline.audio, atol=1e-6)
    unkeyed = load_session(path)
    unkeyed.edit.set_key(unkeyed, unkeyed.track("t0").chain[2], None)
    assert not np.allclose(render(unkeyed, tail=False).audio, offline.audio, atol=1e-3)  # the key is heard
