"""The strip meters: peak since each reader's last look, RMS over 300 ms, a -120 dBFS floor.

The callback is called directly with numpy blocks (test_live_jack.py runs it under a
real server); every figure is compared with numpy on the engine's own output.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rackhost.chain import Session
from rackhost.live import LiveEngine
from rackhost.live.meters import RMS_WINDOW_SECONDS, MeterReader

OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)


def _engine(rate: int, block: int, tracks: int = 1) -> LiveEngine:
    session = Session(sample_rate=rate, block_size=block)
    for k in range(tracks):
        session.add_track(f"in{k}", None, input=(0, 1))
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    engine.play()
    engine.meters()  # the warm-up's silence is behind this reader
    return engine


def _blocks(engine: LiveEngine, signal: np.ndarray) -> np.ndarray:
    """Run ``signal`` (2, whole blocks) through the callback; the master output (2, frames)."""
    block = engine.session.block_size
    out = np.zeros((signal.shape[1], 2), np.float32)
    for i in range(0, signal.shape[1], block):
        engine._callback(np.ascontiguousarray(signal[:, i : i + block].T), out[i : i + block], block, None, OK)
    return out.T


def _signal(rng: np.random.Generator, blocks: int, block: int) -> np.ndarray:
    """Noise whose level jumps every few blocks, with silent stretches and stretches below the floor."""
    frames = blocks * block
    levels = rng.choice([0.0, 1e-7, 1e-3, 0.05, 0.5, 0.9], size=frames // block + 1)
    gain = np.repeat(levels, block)[:frames]
    return (rng.uniform(-1, 1, (2, frames)) * gain).astype(np.float32)


def _floored(x: np.ndarray) -> np.ndarray:
    return np.where(x < 1e-6, 0.0, x)


def _db(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 20 * np.log10(np.asarray(x, np.float64))


@settings(max_examples=25, deadline=None)
@given(rate=st.sampled_from([44100, 48000, 96000]), block=st.sampled_from([32, 64, 128, 256, 512]),
       reads=st.lists(st.integers(1, 60), min_size=2, max_size=8), seed=st.integers(0, 2 ** 16))
def test_each_read_gives_the_peak_of_every_block_since_the_last_read_and_rms_of_the_last_300_ms(
        rate, block, reads, seed):
    engine = _engine(rate, block)
    rng = np.random.default_rng(seed)
    played = []
    for count in reads:  # a reader that looks every `count` blocks (a GUI frame, the CLI's second)
        out = _blocks(engine, _signal(rng, count, block))
        played.append(out)
        shown = engine.meters()
        expected_peak = _floored(np.abs(out).max(axis=1))
        np.testing.assert_allclose(shown[-1, :, 0], expected_peak, rtol=1e-6)
        np.testing.assert_allclose(shown[0, :, 0], expected_peak, rtol=1e-6)  # the track, at unity gain
        window = max(1, round(RMS_WINDOW_SECONDS * rate / block)) * block
        everything = np.concatenate(played, axis=1)[:, -window:]
        rms = np.sqrt(np.sum(np.square(everything, dtype=np.float64), axis=1) / window)
        np.testing.assert_allclose(shown[-1, :, 1], _floored(rms), rtol=1e-4)


def test_two_readers_each_see_every_block_and_neither_takes_the_others_peak():
    engine = _engine(48000, 128)
    gui, cli = MeterReader(48000), MeterReader(48000)
    engine.meters(gui), engine.meters(cli)
    loud = np.zeros((2, 128 * 4), np.float32)
    loud[:, 5] = 0.8
    _blocks(engine, loud)
    assert engine.meters(gui)[-1, 0, 0] == pytest.approx(0.8)
    _blocks(engine, np.full((2, 128), 0.1, np.float32))
    assert engine.meters(gui)[-1, 0, 0] == pytest.approx(0.1)  # only what came after its last look
    assert engine.meters(cli)[-1, 0, 0] == pytest.approx(0.8)  # the GUI's reads did not take it
    assert engine.meters(cli)[-1, 0, 0] == 0.0  # nothing since


def test_a_reader_keeps_the_peak_of_blocks_played_before_a_structural_edit():
    engine = _engine(48000, 128, tracks=2)
    peak = np.zeros((2, 128), np.float32)
    peak[:, 3] = 0.7
    _blocks(engine, peak)
    engine.session.add_track("new", None, input=(0,))
    engine.update()  # new rows: the reader finishes the old ones first
    _blocks(engine, np.full((2, 128), 0.01, np.float32))
    shown = engine.meters()
    assert shown.shape == (4, 2, 4)
    assert shown[0, 0, 0] == pytest.approx(0.7) and shown[-1, 0, 0] == pytest.approx(0.7 * 2, rel=1e-6)
    assert shown[2, 0, 0] == pytest.approx(0.01 * np.cos(np.pi / 4), rel=1e-5)  # the new mono track, panned


@pytest.mark.parametrize("level", [1e-25, 1e-13, 9.9e-7])
def test_levels_below_minus_120_dbfs_read_zero(level):
    engine = _engine(48000, 128)
    _blocks(engine, np.full((2, 128 * 120), level, np.float32))
    shown = engine.meters()
    assert not shown[:, :, :3].any()  # peak, RMS and hold: -inf, not -499.6


def test_rms_is_over_300_ms_not_the_last_block():
    engine = _engine(48000, 128)
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000)
    _blocks(engine, np.vstack([tone, tone])[:, : 128 * 375].astype(np.float32))
    _blocks(engine, np.zeros((2, 128 * 2), np.float32))  # a silent moment: the RMS does not drop to -inf
    shown = engine.meters()
    window = round(0.3 * 48000 / 128)
    assert _db(shown[-1, 0, 1]) == pytest.approx(_db(0.5 / np.sqrt(2) * np.sqrt((window - 2) / window)), abs=0.05)
