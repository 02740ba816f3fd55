"""What watching a strip costs the audio callback: copies into rings, nothing measured there (issue 18's "the
spectrum view costs the audio thread nothing but a ring write"). The callback is called directly; the
measuring is the control thread's, from the copies."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SR
from rackhost.chain import ArraySource, Session
from rackhost.live.commands import BusRow
from rackhost.live.spectrum_tap import TAP_FRAMES, SpectrumTap
from test_live_callback import OK, _run, _started

BLOCK = 128
COMPRESSOR = {"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 1.0, "release_ms": 50.0}
# What a watched strip may add to a block: the tap's copy, a multi-stage chain's copies of its inner stages (from
# the chain's loop that hands them over), and the dict look-up of the ring's view for this block's frames.
# Anything else (a level, an FFT, a mean, a helper function) is measuring work the control thread should do.
RING_WRITES = {"SpectrumTap.write", "StageRing.stage", "ChainProcessor.__call__", "get"}


def _sine(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile(amplitude * np.sin(2 * np.pi * freq * t), (2, 1)).astype(np.float32)


def _session(stages: int) -> Session:
    """A track into a bus, the master: each chain of ``stages`` stages (1: the slots run fused, as one)."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("tone", ArraySource(_sine(220, 2.0, 0.9), SR))
    bus = session.add_bus("glue")
    track.output = "glue"
    for chain in (track.chain, bus.chain, session.master.chain):
        chain.add("ZamCompX2", threshold_db=-40.0, ratio=10.0)
        chain.add("Gain", gain_db=4.0)
        chain.add("Compressor", **COMPRESSOR)
        if stages > 1:
            chain[1].set_mix(0.999)  # a wet/dry stage of its own: three stages
    return session


def _calls_per_block(engine, blocks: int = 4) -> set[str]:
    """Every Python function (by qualified name) and C function (by name) the callback calls in ``blocks``
    blocks, seen by the interpreter's profiler: the callback as it runs, not a stand-in."""
    seen: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            seen.add(frame.f_code.co_qualname)
        elif event == "c_call":
            seen.add(arg.__name__)

    indata = np.zeros((BLOCK, 2), np.float32)
    outdata = np.zeros((BLOCK, 2), np.float32)
    sys.setprofile(profile)
    try:
        for _ in range(blocks):
            engine._callback(indata, outdata, BLOCK, None, OK)
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize("stages", [1, 3], ids=["one stage", "three stages"])
@pytest.mark.parametrize("strip", [0, BusRow(0), None], ids=["a track", "a bus", "the master"])
def test_watching_a_strip_adds_ring_copies_to_the_callback_and_nothing_that_measures(strip, stages):
    engine = _started(_session(stages))
    _run(engine, np.zeros((2, BLOCK * 8), np.float32))
    closed = _calls_per_block(engine)
    engine.watch_spectrum(strip)
    _run(engine, np.zeros((2, BLOCK * 2), np.float32))
    watched = _calls_per_block(engine)
    added = watched - closed
    assert "SpectrumTap.write" in added  # the profiler sees the tap's work: so it would see a measurement too
    assert ("StageRing.stage" in added) == (stages > 1)
    assert added <= RING_WRITES, f"the callback measures while a strip is watched: {sorted(added - RING_WRITES)}"
    # and what it copied is enough for the control thread to estimate every stage's gain reduction
    reductions = {r.slots: r.db for r in engine.stage_reductions()}
    assert set(reductions) == ({(0, 1, 2)} if stages == 1 else {(0,), (1,), (2,)})
    if strip == 0:  # the track's compressors get the sine at 0.9 (the bus and the master get it compressed)
        assert reductions[(0, 1, 2)] > 10.0 if stages == 1 else reductions[(0,)] > 10.0
    if stages > 1:
        assert reductions[(1,)] == pytest.approx(-4.0, abs=0.1)  # the Gain: 4 dB louder


def test_the_estimated_gain_reduction_is_measured_by_the_reader_from_the_copied_blocks_alone():
    engine = _started(_session(3))
    engine.watch_spectrum(0)
    _run(engine, np.zeros((2, BLOCK * 40), np.float32))
    tap = engine.spectrum_tap
    assert len(engine.stage_reductions()) == 3
    # The rings are all the callback leaves: silence them and no estimate is left anywhere.
    tap.ring[:] = 0.0
    tap.inner.ring[:] = 0.0
    assert engine.stage_reductions() == []
    # Blocks put in by hand, no callback run: the reader measures them (pre 0 dB, -6, -10, post -10.5).
    for row, db in zip((tap.ring[0], tap.inner.ring[0], tap.inner.ring[1], tap.ring[1]), (0.0, -6.0, -10.0, -10.5)):
        row[:] = 0.5 * 10.0 ** (db / 20.0)
    got = [r.db for r in engine.stage_reductions()]
    assert got == pytest.approx([6.0, 4.0, 0.5], abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(block=st.sampled_from([32, 96, 128, 500, 1024, 3000]), blocks=st.integers(1, 40),
       widths=st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2])))
def test_the_ring_holds_the_last_frames_written_whatever_the_block_and_width(block, blocks, widths):
    rng = np.random.default_rng(block * 1000 + blocks)
    pre = rng.standard_normal((widths[0], block * blocks)).astype(np.float32)
    post = rng.standard_normal((widths[1], block * blocks)).astype(np.float32)
    tap = SpectrumTap(0, 128)  # views made for 128-frame blocks: other sizes take the general path
    for k in range(blocks):
        tap.write(pre[:, k * block : (k + 1) * block], post[:, k * block : (k + 1) * block])
    assert tap.written == block * blocks
    frames = tap.frames()
    kept = min(TAP_FRAMES, block * blocks)
    for side, signal in enumerate((pre, post)):
        mono = (signal[0] + signal[-1]) * np.float32(0.5)
        np.testing.assert_array_equal(frames[side, TAP_FRAMES - kept :], mono[-kept:])
        assert not frames[side, : TAP_FRAMES - kept].any()


def test_a_track_the_partner_process_renders_is_tapped_here_with_its_one_stage_estimate(jack_server, tmp_path,
                                                                                         wav_file):
    """Its chain runs in the partner: the tap takes its file and the row the partner sent. A chain run as one
    stage needs nothing more for its estimate; one of several stages has inner stages this process never sees."""
    import time

    from conftest import file_loader
    from jack_harness import jack_device
    from rackhost.live import LiveEngine
    from rackhost.live.process import partner_starter
    from rackhost.presets import load_session, save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    for k in range(12):
        track = session.add_track(f"t{k}", wav_file(_sine(500 + 100 * k, 4.0, 0.5), f"t{k}.wav"))
        track.chain.add("Gain", gain_db=-6.0)
        track.chain.add("Gain", gain_db=-2.0)
        if k == 1:
            track.chain[1].set_mix(0.999)  # two stages
    save_session(session, tmp_path / "s.json")
    engine = LiveEngine(load_session(tmp_path / "s.json"), device=jack_device(), input_channels=0,
                        partner=partner_starter(file_loader(tmp_path / "s.json")))
    engine.start()
    try:
        assert engine._state.partner is not None and {0, 1} <= set(engine._state.partner.lanes.tolist())
        engine.watch_spectrum(0)
        engine.play()
        time.sleep(1.0)
        one = engine.stage_reductions()
        pre, post = engine.spectrum_tap.frames()
        engine.watch_spectrum(1)
        time.sleep(0.5)
        several = engine.stage_reductions()
        assert engine.stats().fault is None
    finally:
        engine.close()
    [reduction] = one
    assert reduction.slots == (0, 1) and reduction.db == pytest.approx(8.0, abs=0.05)
    assert np.sqrt(np.mean(pre[-4096:] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)  # its file, read here
    assert np.sqrt(np.mean(post[-4096:] ** 2)) == pytest.approx(0.5 / np.sqrt(2) * 10 ** (-8 / 20), rel=0.02)
    assert several == []  # its inner stage ran in the partner: no estimate rather than a wrong one
