"""Busses and sends live: the callback runs the offline graph, sample for sample (directly, and under JACK)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, program_signal
from live_takes import assert_live_equals_offline
from test_live_callback import BLOCK, OK, _run, _started

from rackhost.chain import ArraySource, Chain, Plugin, Session, render
from rackhost.live import LiveEngine
from rackhost.presets import session_to_dict
from rackhost.presets.session_sync import resync


def _routed(signal: np.ndarray | None = None, block: int = BLOCK) -> Session:
    """A stereo input into a drum bus with a latent limiter, sending pre-fader to a reverb bus; a mono input
    (the second channel) through ZaMaximX2 (480 samples) sending post-fader to the reverb; the drum bus nested
    in a music bus. Offline, ``signal`` plays what the inputs hear."""
    session = Session(sample_rate=SR, block_size=block)
    if signal is None:
        guitar = session.add_track("guitar", None, input=(0, 1), gain_db=-4.0, output="drums")
    else:
        guitar = session.add_track("guitar", ArraySource(signal, SR), gain_db=-4.0, output="drums")
    guitar.chain.add("HighpassFilter", cutoff_frequency_hz=80)
    guitar.chain.add("ZamCompX2", threshold_db=-24, ratio=4)
    guitar.add_send("reverb", -9.0, pre_fader=True)
    if signal is None:
        backing = session.add_track("backing", None, input=(1,), pan=0.3)
    else:
        backing = session.add_track("backing", ArraySource(signal[1:], SR), pan=0.3)
    backing.chain.add("ZaMaximX2", threshold_db=-6)
    backing.add_send("reverb", -6.0)
    session.add_bus("drums", Chain([Plugin.create("BrickwallLimiter"), Plugin.create("Compressor", threshold_db=-18)]),
                    gain_db=-2.0, output="music")
    session.add_bus("music", pan=-0.2)
    session.add_bus("reverb", Chain([Plugin.create("Reverb", room_size=0.5, wet_level=0.8, dry_level=0.0)]))
    return session


def test_the_callback_plays_a_routed_session_as_the_offline_render_to_the_sample():
    signal = program_signal(2, 0.5, seed=3)[:, : BLOCK * 150]
    live = _run(_started(_routed()), signal)
    offline_session = _routed(signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480  # ZaMaximX2's path; the drum bus's limiter (240) is compensated under it
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])


@pytest.mark.parametrize("block", [32, 512])
def test_at_any_block_size_the_callback_plays_the_offline_render(block):
    signal = program_signal(2, 0.3, seed=4)
    signal = signal[:, : signal.shape[1] // block * block]
    session = _routed(block=block)
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    live = []
    for i in range(0, signal.shape[1], block):
        outdata = np.zeros((block, 2), np.float32)
        engine._callback(np.ascontiguousarray(signal[:, i : i + block].T), outdata, block, None, OK)
        live.append(outdata.T.copy())
    live = np.concatenate(live, axis=1)
    offline = render(_routed(signal, block), tail=False).audio
    np.testing.assert_array_equal(live[:, 480:], offline[:, : live.shape[1] - 480])


def test_a_routing_edit_sent_as_a_document_keeps_every_running_bus_plugin():
    session = _routed()
    reverb = session.bus("reverb").chain[0].plugin
    drums = [slot.plugin for slot in session.bus("drums").chain]
    session.track("guitar").output = None
    session.bus("music").add_send("reverb", -3.0)
    resynced, _ = resync(session, session_to_dict(session))
    assert resynced.bus("reverb").chain[0].plugin is reverb
    assert [slot.plugin for slot in resynced.bus("drums").chain] == drums
    assert resynced.track("guitar").output is None and resynced.bus("music").send("reverb").level_db == -3.0


def test_a_send_level_and_a_bus_fader_change_live_without_rebuilding_the_graph():
    session = _routed()
    engine = _started(session)
    router = engine._state.snapshot.router
    session.track("backing").send("reverb").level_db = -20.0
    session.bus("music").gain_db = -6.0
    engine.update_mix()
    remixed = engine._state.snapshot.router
    assert remixed is not router and remixed.busses is router.busses  # same bus chains and delay lines
    assert not np.array_equal(remixed.edge_gains, router.edge_gains)  # the send level
    assert not np.array_equal(remixed.bus_gains, router.bus_gains)  # the bus fader
    session.add_bus("new")
    engine.update_mix()  # a new bus is a new graph: rebuilt, not remixed
    assert len(engine._state.snapshot.router.busses) == 4


def test_a_bus_plugin_that_raises_is_bypassed_and_reported_and_the_mix_goes_on():
    session = _routed()
    bad = session.bus("reverb").chain.add(Plugin.create("ZamComp"))  # mono-only, on a stereo bus
    engine = _started(session)
    bad.plugin.mode = "direct"  # as if the plug-in had lied about its layout: it raises every block
    engine.update()
    _run(engine, program_signal(2, 0.05))
    events = engine.poll()
    assert bad.bypass
    assert any(e.startswith("bus 'reverb': ZamComp raised") and "bypassed from now on" in e for e in events)
    out = _run(engine, program_signal(2, 0.1))
    assert np.max(np.abs(out)) > 0.01 and not engine.poll()


def test_live_output_of_a_session_with_busses_and_sends_equals_the_offline_render(jack_server):
    signal = program_signal(2, 1.0, seed=9)
    assert_live_equals_offline(jack_server, _routed, signal, latency=480)


def test_the_meters_hold_every_bus_after_its_fader_between_the_tracks_and_the_master():
    session = _routed()
    session.track("backing").mute = True
    session.bus("reverb").mute = True  # the master then hears the music bus alone
    engine = _started(session)
    assert engine.metered_busses() == ("drums", "music", "reverb")
    _run(engine, program_signal(2, 0.3, seed=5))
    meters = engine.meters()
    assert meters.shape == (2 + 3 + 1, 2, 4)
    drums, music, reverb, master = meters[2], meters[3], meters[4], meters[-1]
    assert drums[0, 0] > 0.01 and music[0, 0] > 0.01
    np.testing.assert_array_equal(music[:, 0], master[:, 0])  # the master is the music bus
    np.testing.assert_allclose(music[:, 1], master[:, 1], rtol=0.02)  # its RMS window, a path's delay later
    assert not reverb.any()  # a muted bus reads silence, as a muted track does
    session.bus("music").gain_db = -6.0
    engine.update_mix()
    engine.meters()
    _run(engine, program_signal(2, 0.3, seed=5))
    quieter = engine.meters()
    assert quieter[3, 0, 0] == pytest.approx(quieter[-1, 0, 0]) and quieter[3, 0, 0] < music[0, 0] * 0.6
    session.add_bus("fx")
    engine.update()  # a new bus, a new ring: its row joins the others
    assert engine.metered_busses() == ("drums", "music", "reverb", "fx") and engine.meters().shape[0] == 2 + 4 + 1
