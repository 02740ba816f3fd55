"""The live spectrum view and the estimated gain reduction: the analysis, the engine's tap, a real JACK engine."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SR, file_loader
from rackhost.chain import ArraySource, Session, render
from rackhost.chain.spectrum import (PeakHold, average_spectrum, estimated_gain_reduction_db, live_spectrum,
                                     reduction_figure, reduction_text, rms_db, smoothed)
from rackhost.live.commands import BusRow
from rackhost.live.spectrum_tap import TAP_FRAMES, SlotReduction
from test_live_callback import _run, _started

BLOCK = 128


def _sine(freq: float, seconds: float, amplitude: float = 0.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile(amplitude * np.sin(2 * np.pi * freq * t), (channels, 1)).astype(np.float32)


def _peak_hz(frames: np.ndarray) -> float:
    spectrum = live_spectrum(frames, SR)
    return float(spectrum.frequencies_hz[np.argmax(spectrum.level_db)])


# -- the analysis (pure) -------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(freq=st.floats(60.0, 16000.0, allow_nan=False, allow_subnormal=False),
       amplitude=st.floats(0.01, 1.0, allow_subnormal=False))
def test_the_live_spectrum_of_a_sine_peaks_in_the_band_holding_its_frequency(freq, amplitude):
    peak = _peak_hz(_sine(freq, TAP_FRAMES / SR, amplitude, channels=1))
    # 1/6-octave bands: the band's centre is within a twelfth of an octave (plus a bin, low down) of the tone
    assert abs(math.log2(peak / freq)) <= 1 / 12 + math.log2(1 + (SR / 4096) / freq)


@settings(max_examples=20, deadline=None)
@given(fraction=st.integers(1, 24))
def test_smoothing_gives_fraction_bands_per_octave_from_20_hz_to_nyquist(fraction):
    bands = smoothed(average_spectrum(_sine(1000, 0.1, channels=1), SR, 1024), fraction)
    octaves = math.log2((SR / 2) / 20.0)
    assert len(bands.frequencies_hz) == math.floor(octaves * fraction)
    assert np.all(np.diff(np.log2(bands.frequencies_hz)) == pytest.approx(1 / fraction, rel=1e-6))


@settings(max_examples=40, deadline=None)
@given(curves=st.lists(st.lists(st.floats(-150, 10, allow_nan=False, allow_subnormal=False), min_size=8,
                                max_size=8), min_size=1, max_size=6),
       elapsed=st.floats(0.0, 2.0, allow_subnormal=False))
def test_peak_hold_is_never_below_the_curve_and_falls_no_faster_than_its_decay(curves, elapsed):
    hold = PeakHold(decay_db_per_second=12.0)
    previous = None
    for curve in curves:
        held = hold.update(np.array(curve), elapsed)
        assert np.all(held >= np.array(curve))
        if previous is not None:
            assert np.all(held >= previous - 12.0 * elapsed - 1e-9)
        previous = held


@settings(max_examples=40, deadline=None)
@given(gain_db=st.floats(-40.0, 20.0, allow_subnormal=False), amplitude=st.floats(0.001, 1.0, allow_subnormal=False))
def test_the_estimate_of_a_plain_gain_is_that_gain_in_db(gain_db, amplitude):
    before = _sine(440, 0.1, amplitude, channels=1)
    after = before * 10.0 ** (gain_db / 20.0)
    assert estimated_gain_reduction_db(before, after) == pytest.approx(-gain_db, abs=1e-3)


def test_no_estimate_from_silence():
    assert estimated_gain_reduction_db(np.zeros(512), np.zeros(512)) is None
    assert rms_db(np.zeros(8)) == -math.inf


@pytest.mark.parametrize("db, estimated, text", [
    (3.94, True, "GR ~3.9 dB est."), (-3.94, True, "gain ~+3.9 dB est."), (-0.04, True, "GR ~0.0 dB est."),
    (20.1, False, "GR 20.1 dB"), (-2.0, False, "gain +2.0 dB")])
def test_a_negative_reduction_reads_as_the_gain_it_is(db, estimated, text):
    assert reduction_text(db, estimated) == text
    assert SlotReduction((0,), db, reported=not estimated).label == text
    assert "-" not in reduction_figure(db, 0) and reduction_figure(-0.4, 0) == "0"


# -- the engine's tap, with the callback called directly ------------------------------------------------


def _file_session(signal: np.ndarray, *slots: tuple[str, dict]) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("tone", ArraySource(signal, SR))
    for name, values in slots:
        track.chain.add(name, **values)
    return session


def test_with_no_spectrum_watched_the_callback_writes_no_ring():
    engine = _started(_file_session(_sine(1000, 0.5), ("Gain", {"gain_db": -6.0})))
    _run(engine, np.zeros((2, BLOCK * 20), np.float32))
    assert engine.spectrum_tap is None
    engine.watch_spectrum(0)
    tap = engine.spectrum_tap
    _run(engine, np.zeros((2, BLOCK * 20), np.float32))
    assert tap.written == BLOCK * 20
    engine.watch_spectrum(False)  # the view closed: the callback holds no ring again
    _run(engine, np.zeros((2, BLOCK * 20), np.float32))
    assert engine.spectrum_tap is None and tap.written == BLOCK * 20


@pytest.mark.parametrize("strip", [0, BusRow(0), None], ids=["a track", "a bus", "the master"])
def test_the_tap_holds_the_strips_signal_before_and_after_its_chain(strip):
    session = _file_session(_sine(1000, 0.5), ("Gain", {"gain_db": -6.0}))
    session.tracks[0].gain_db = -10.0  # the track's fader is after the tap's "post": it must not count
    if strip is None:
        session.master.chain.add("Gain", gain_db=-3.0)
        session.master.gain_db = -8.0  # after the chain: not part of its "post" either
    if isinstance(strip, BusRow):
        session.add_track("other", ArraySource(_sine(3000, 0.5, 0.1), SR))  # not into the bus: not in its pre
        session.add_bus("glue", gain_db=-7.0).chain.add("Gain", gain_db=-4.5)
        session.tracks[0].output = "glue"
    engine = _started(session)
    engine.watch_spectrum(strip)
    _run(engine, np.zeros((2, TAP_FRAMES + BLOCK * 4), np.float32))
    pre, post = engine.spectrum_tap.frames()
    assert _peak_hz(pre) == pytest.approx(1000, rel=0.06) and _peak_hz(post) == pytest.approx(1000, rel=0.06)
    expected = {0: 6.0, None: 3.0}.get(strip, 4.5)
    assert estimated_gain_reduction_db(pre, post) == pytest.approx(expected, abs=0.05)
    [slot] = engine.stage_reductions()  # the watched chain's one slot, estimated on its own
    assert slot.slots == (0,) and slot.db == pytest.approx(expected, abs=0.05) and not slot.reported


def test_watching_a_track_the_session_lacks_is_refused_naming_it():
    engine = _started(_file_session(_sine(1000, 0.1)))
    with pytest.raises(Exception, match="no track 3 to watch in the spectrum view"):
        engine.watch_spectrum(3)


def test_a_compressor_pushed_hard_shows_an_estimated_gain_reduction_near_the_offline_measurement():
    signal = _sine(220, 2.0, 0.9)
    values = {"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 1.0, "release_ms": 50.0}
    engine = _started(_file_session(signal, ("Compressor", values)))
    engine.watch_spectrum(0)
    _run(engine, np.zeros((2, int(1.5 * SR)), np.float32))
    live = estimated_gain_reduction_db(*engine.spectrum_tap.frames())
    offline = render(_file_session(signal, ("Compressor", values)), tail=False).audio
    end = int(1.5 * SR) - int(1.5 * SR) % BLOCK
    measured = rms_db(signal[:, end - TAP_FRAMES : end]) - rms_db(offline[:, end - TAP_FRAMES : end])
    assert measured > 10.0  # pushed hard: this is a real gain reduction, not a rounding error
    assert live == pytest.approx(measured, abs=0.5)
    assert {r.slots: r.db for r in engine.stage_reductions()}[(0,)] == pytest.approx(measured, abs=0.5)  # the slot's own estimate


# -- a real engine process under JACK ---------------------------------------------------------------------


@pytest.mark.parametrize("strip", [0, None], ids=["a track", "the master"])
def test_a_sine_played_by_the_engine_under_jack_peaks_at_its_frequency_in_the_views_data(jack_server, tmp_path,
                                                                                           wav_file, strip):
    from jack_harness import jack_device
    from rackhost.live.commands import Play, UnwatchSpectrum, WatchSpectrum
    from rackhost.live.process import EngineProcess
    from rackhost.presets import save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("tone", wav_file(_sine(2500, 6.0), "tone.wav")).chain.add("Gain", gain_db=-6.0)
    save_session(session, tmp_path / "s.json")
    engine = EngineProcess(file_loader(tmp_path / "s.json"), device=jack_device())
    engine.start()
    try:
        assert engine.spectrum_frames() is None  # nothing watched: the engine publishes no frames
        engine.send(WatchSpectrum(strip))
        engine.send(Play())
        deadline = time.monotonic() + 20
        got = None
        while time.monotonic() < deadline:
            got = engine.spectrum_frames()
            if got is not None and engine.stats()["position"] > 2 * TAP_FRAMES + SR // 2:
                got = engine.spectrum_frames()
                break
            assert engine.alive, engine.poll()
            time.sleep(0.05)
        engine.send(UnwatchSpectrum())
        deadline = time.monotonic() + 10
        while engine.spectrum_frames() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        after = engine.spectrum_frames()
    finally:
        engine.stop()
    assert got is not None, engine.events
    watched, (pre, post) = got
    assert watched == strip
    assert _peak_hz(pre) == pytest.approx(2500, rel=0.06) and _peak_hz(post) == pytest.approx(2500, rel=0.06)
    if strip == 0:
        assert estimated_gain_reduction_db(pre, post) == pytest.approx(6.0, abs=0.1)
    assert after is None


def test_each_stage_of_a_watched_chain_gets_its_own_estimated_gain_reduction_and_an_unwatched_chain_none():
    signal = _sine(220, 2.0, 0.9)
    values = {"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 1.0, "release_ms": 50.0}
    session = _file_session(signal, ("ZamCompX2", {"threshold_db": -40.0, "ratio": 10.0}), ("Gain", {"gain_db": 4.0}),
                            ("Compressor", dict(values, threshold_db=-60.0)))
    session.tracks[0].chain[1].set_mix(0.999)  # a wet/dry stage of its own: the three slots run as stages
    engine = _started(session)
    engine.watch_spectrum(0)
    _run(engine, np.zeros((2, int(1.0 * SR)), np.float32))
    reductions = {r.slots: r.db for r in engine.stage_reductions()}
    assert not any(r.reported for r in engine.stage_reductions())  # pedalboard reports none: all estimates
    assert set(reductions) == {(0,), (1,), (2,)}, reductions
    assert reductions[(0,)] > 10.0  # ZamCompX2 pushed hard: its own GR, where pedalboard reports none
    assert reductions[(1,)] == pytest.approx(-4.0, abs=0.1)  # a gain: "GR" of -4 dB, i.e. 4 dB louder
    assert reductions[(2,)] > 3.0
    chain = engine._state.snapshot.tracks[0].chain
    assert chain.levels is engine.spectrum_tap.inner
    engine.update()  # a structural edit makes new chains: the watched one records its stages again
    chain = engine._state.snapshot.tracks[0].chain
    assert chain.levels is engine.spectrum_tap.inner and chain.levels is not None
    engine.watch_spectrum(False)
    assert chain.levels is None and engine.stage_reductions() == []
