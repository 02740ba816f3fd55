"""Keys live: the callback runs the offline graph with a keyed bus, sample for sample (directly, and under JACK).

Runs in its own pytest process (Makefile): it hosts minihost beside pedalboard.
"""

from __future__ import annotations

import numpy as np
from conftest import SR, program_signal
from live_takes import assert_live_equals_offline
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Chain, Plugin, Session, render
from rackhost.presets import session_to_dict
from rackhost.presets.session_sync import resync

DUCK = {"threshold_db": -40.0, "ratio": 10.0, "attack_ms": 1.0, "release_ms": 50.0}


def _signal(seconds: float = 1.0) -> np.ndarray:
    """Music on the first channel, a voice in bursts on the second."""
    music = program_signal(1, seconds, seed=11) * 0.5
    n = music.shape[1]
    bursts = (np.sin(np.arange(n) * 2 * np.pi * 3 / SR) > 0.3).astype(np.float32)
    voice = (0.5 * np.sin(np.arange(n) * 2 * np.pi * 220 / SR) * bursts).astype(np.float32)
    return np.concatenate([music, voice[None]]).astype(np.float32)


def _keyed(signal: np.ndarray | None = None, block: int = BLOCK) -> Session:
    """Music (input 1) into a bus ducked by ZamCompX2 keyed from the voice (input 2), whose path has ZaMaximX2's
    480 samples, so the key is delayed against the music; the voice is heard through a bus of its own.
    Offline, ``signal`` plays what the inputs hear."""
    session = Session(sample_rate=SR, block_size=block)
    if signal is None:
        session.add_track("music", None, input=(0,), output="music bus")
        voice = session.add_track("voice", None, input=(1,), output="vox", gain_db=-3.0)
    else:
        session.add_track("music", ArraySource(signal[:1], SR), output="music bus")
        voice = session.add_track("voice", ArraySource(signal[1:], SR), output="vox", gain_db=-3.0)
    voice.chain.add("ZaMaximX2", threshold_db=0.0)
    session.add_bus("music bus", Chain([Plugin.create("ZamCompX2", **DUCK)]), gain_db=-2.0)
    session.add_bus("vox", gain_db=-6.0)
    session.edit.set_key(session, session.bus("music bus").chain[0], "voice")
    return session


def test_the_callback_plays_a_keyed_session_as_the_offline_render_to_the_sample():
    signal = _signal()[:, : BLOCK * 300]
    live = _run(_started(_keyed()), signal)
    offline_session = _keyed(signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
    unkeyed = _keyed(signal)
    unkeyed.edit.set_key(unkeyed, unkeyed.bus("music bus").chain[0], None)
    unkeyed.bus("music bus").chain[0].plugin.set("sidechain", 0.0)
    assert not np.allclose(render(unkeyed, tail=False).audio, offline, atol=1e-3)  # the key made a difference


def test_a_parameter_change_while_playing_reaches_the_keyed_twin():
    session = _keyed()
    engine = _started(session)
    slot = session.bus("music bus").chain[0]
    signal = _signal(0.5)
    plain = _keyed()
    plain.bus("music bus").chain[0].bypass = True
    unducked = _started(plain)
    for _ in range(2):
        ducked = _run(engine, signal)
        reference = _run(unducked, signal)
    assert not np.allclose(ducked, reference, atol=1e-3)
    engine.set_parameter(slot.plugin, "threshold_db", 0.0)  # above every key level: no more ducking
    _run(engine, signal)  # the release finishes
    np.testing.assert_allclose(_run(engine, signal), _run(unducked, signal), atol=1e-4)  # the last of the release


def test_a_routing_edit_sent_as_a_document_keeps_the_keyed_twin_and_its_key():
    session = _keyed()
    engine = _started(session)
    twin = engine._state.snapshot.router.busses[0].chain.keys[0][1].twin
    session.add_bus("new")
    resynced, _ = resync(session, session_to_dict(session))
    slot = resynced.bus("music bus").chain[0]
    assert slot.key.source == "voice"
    assert resynced.snapshot().router.busses[0].chain.keys[0][1].twin is twin


def test_live_output_of_a_session_with_a_key_equals_the_offline_render(jack_server):
    signal = _signal(1.0)
    assert_live_equals_offline(jack_server, _keyed, signal, latency=480)


def test_the_voice_fader_moves_a_post_fader_key_live_without_rebuilding_the_graph():
    session = _keyed()
    engine = _started(session)
    router = engine._state.snapshot.router
    session.track("voice").gain_db = -20.0
    engine.update_mix()
    remixed = engine._state.snapshot.router
    assert remixed.busses is router.busses  # the keyed bus's chain and its twin run on
    np.testing.assert_allclose(remixed.key_gains, router.key_gains * np.float32(10 ** (-17 / 20)), rtol=1e-5)
    session.edit.set_key(session, session.bus("music bus").chain[0], "voice", pre_fader=True)
    engine.update_mix()  # pre- or post-fader is where the key is taken: a new graph
    assert engine._state.snapshot.router.key_gains.ravel().tolist() == [1.0, 1.0]
