"""Envelopes live: the callback plays them as the offline render does, to the sample (directly, and under JACK)."""

from __future__ import annotations

import numpy as np
from conftest import SR, program_signal
from jack_harness import Recorder, align, disconnect_system, find_ports, jack_device
from live_takes import clean_take, xruns
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Chain, Plugin, Session, render
from rackhost.chain.automation import Envelope, Point, SendTarget, SlotTarget, StripTarget, check_envelope
from rackhost.live import LiveEngine


def _automate(owner, target, *points) -> None:
    owner.automation.append(check_envelope(owner, Envelope(target, tuple(Point(*p) for p in points))))


def _automated(signal: np.ndarray | None = None, block: int = BLOCK) -> Session:
    """A stereo track (a device input live, ``signal`` offline) through a Compressor and ZamCompX2 whose
    thresholds move, panned by an envelope, sending to a reverb bus whose level and fader move, and a master
    gain ride; ZaMaximX2 on the master (480 samples of latency, so envelopes are read late there)."""
    session = Session(sample_rate=SR, block_size=block)
    source = ArraySource(signal, SR) if signal is not None else None
    track = session.add_track("gtr", source, input=() if signal is not None else (0, 1))
    comp = track.chain.add("Compressor", threshold_db=-12.0, ratio=4.0)
    zam = track.chain.add(Plugin.create("ZamCompX2", ratio=4.0))
    send = track.add_send("verb", -12.0)
    session.add_bus("verb", Chain([Plugin.create("Reverb", room_size=0.4, dry_level=0.0)]))
    session.master.chain.add(Plugin.create("ZaMaximX2", threshold_db=-3.0))
    _automate(track, SlotTarget(comp, "threshold_db"), (0.0, -6.0), (0.2, -30.0, "step"), (0.3, -10.0, "smooth"),
              (0.5, -24.0))
    _automate(track, SlotTarget(zam, "threshold_db"), (0.0, 0.0), (0.45, -30.0))
    _automate(track, SlotTarget(comp, "_mix"), (0.0, 1.0), (0.4, 0.5))
    _automate(track, StripTarget("pan"), (0.0, -0.6), (0.5, 0.6))
    _automate(track, SendTarget(send), (0.0, -40.0), (0.3, -6.0))
    _automate(session.bus("verb"), StripTarget("gain_db"), (0.1, 0.0, "step"), (0.35, -6.0))
    _automate(session.master, StripTarget("gain_db"), (0.0, -1.0), (0.5, -4.0))
    return session


def test_the_callback_plays_envelopes_as_the_offline_render_to_the_sample():
    signal = program_signal(2, 0.6, seed=5)[:, : BLOCK * 220]
    live = _run(_started(_automated()), signal)
    offline_session = _automated(signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
    without = _automated(signal)
    for strip in (*without.tracks, *without.busses, without.master):
        strip.automation.clear()
    assert np.max(np.abs(render(without, tail=False).audio - offline)) > 0.05  # the envelopes did play


def test_a_mute_while_a_fader_envelope_plays_silences_the_track_live():
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("dc", None, input=(0, 1))
    _automate(track, StripTarget("gain_db"), (0.0, 0.0), (1.0, -6.0))
    engine = _started(session)
    signal = np.full((2, BLOCK * 8), 0.5, np.float32)
    assert np.all(_run(engine, signal) > 0.2)
    track.mute = True
    engine.update_mix()
    assert np.all(_run(engine, signal) == 0.0)
    track.mute = False
    engine.update_mix()
    assert np.all(_run(engine, signal) > 0.2)


def test_live_playback_of_a_files_envelopes_equals_the_offline_render(jack_server):
    """A file track played from the transport, its envelopes read at the transport position, captured under JACK."""
    signal = program_signal(2, 1.0, seed=11)

    def session() -> Session:
        s = Session(sample_rate=SR, block_size=128)
        track = s.add_track("file", ArraySource(signal, SR))
        comp = track.chain.add("Compressor", threshold_db=-10.0, ratio=6.0)
        _automate(track, SlotTarget(comp, "threshold_db"), (0.0, -6.0), (0.5, -30.0, "step"), (0.8, -12.0))
        _automate(track, StripTarget("gain_db"), (0.0, 0.0), (0.9, -12.0, "smooth"), (1.0, -3.0))
        return s

    def take():
        engine = LiveEngine(session(), device=jack_device())
        engine.start()
        try:
            with Recorder("capture", 2, frames=signal.shape[1] + 80 * 128) as recorder:
                outputs = find_ports("PortAudio", is_output=True)
                disconnect_system("PortAudio")
                for src, dst in zip(outputs, recorder.inputs):
                    jack_server.connect(src, dst)
                recorder.start()
                engine.play()
                recorder.wait(timeout=15)
            xruns[0] = recorder.xruns
            stats = engine.stats()
            assert stats.fault is None
        finally:
            engine.close()
        return recorder.captured

    captured = clean_take(take)
    offline = render(session(), tail=False).audio
    lag, aligned = align(offline, captured)
    np.testing.assert_allclose(aligned, offline, atol=1e-6)
