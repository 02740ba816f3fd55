"""A moving threshold on pedalboard's built-in Compressor: one plug-in call per block, the threshold of every sample.

Real pedalboard Compressors throughout: the engine's output is checked against a Compressor called one sample at a
time with its threshold set before each sample (the finest a hand-cut loop can go), and live against offline.
"""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
from automation_helpers import render_block_by_block
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import _run, _started

from rackhost.chain import ArraySource, Session
from rackhost.chain.automated import GRID, CompressorThreshold, StageAutomation
from rackhost.chain.automation import Envelope, Point, SlotTarget, StripTarget, check_envelope
from rackhost.chain.offline import render_mix
from rackhost.chain.render import render

BLOCKS = st.sampled_from([32, 48, 64, 100, 128, 500, 512, 1000, 1024, 4096])
SIGNALS = ("sine", "noise", "silence", "clicks")


def _automate(owner, target, *points) -> Envelope:
    envelope = check_envelope(owner, Envelope(target, tuple(Point(*p) for p in points)))
    owner.automation.append(envelope)
    return envelope


def _signal(kind: str, channels: int, frames: int, amplitude: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / SR
    if kind == "sine":
        rows = [np.sin(2 * np.pi * (441.0 + 150.0 * ch) * t) for ch in range(channels)]
    elif kind == "noise":
        rows = [rng.standard_normal(frames) for _ in range(channels)]
    elif kind == "clicks":
        rows = [np.zeros(frames) for _ in range(channels)]
        for ch, row in enumerate(rows):
            row[ch * 37::701] = 1.0
            row[ch * 37 + 350::701] = -0.5
    else:
        rows = [np.zeros(frames) for _ in range(channels)]
    return (amplitude * np.array(rows)).astype(np.float32)


def _compressed(audio: np.ndarray, block: int, settings_: dict, *points, mix: float = 1.0,
                before: str | None = None) -> tuple[np.ndarray, Session]:
    """``audio`` rendered through a Compressor (at wet/dry ``mix``, after the plug-in ``before``) whose threshold
    follows ``points`` (time, dB)."""
    session = Session(sample_rate=SR, block_size=block, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    if before is not None:
        track.chain.add(before)
    slot = track.chain.add("Compressor", **settings_)
    slot.set_mix(mix)
    _automate(track, SlotTarget(slot, "threshold_db"), *points)
    return render(session, tail=False).audio, session


def _sample_by_sample(audio: np.ndarray, thresholds: np.ndarray, settings_: dict) -> np.ndarray:
    """The real Compressor called one sample at a time, its threshold set before each, channel by channel (a
    (2, 1) block is ambiguous to pedalboard; JUCE's compressor treats its channels independently anyway)."""
    out = np.zeros_like(audio)
    for ch in range(audio.shape[0]):
        compressor = pedalboard.Compressor(**settings_)
        for i in range(audio.shape[1]):
            compressor.threshold_db = float(thresholds[i])
            out[ch:ch + 1, i:i + 1] = compressor.process(audio[ch:ch + 1, i:i + 1], SR, 1, False)
    return out


def _stage_kinds(session: Session) -> list[type]:
    automation = session.snapshot().automation
    return [type(stage) for stage in automation.stages] if automation is not None else []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ratio=st.sampled_from([1.0, 1.5, 4.0, 20.0]), attack=st.floats(0.0, 30.0, allow_subnormal=False),
       release=st.floats(0.0, 300.0, allow_subnormal=False), block=BLOCKS, channels=st.sampled_from([1, 2]),
       kind=st.sampled_from(SIGNALS), amplitude=st.floats(0.01, 1.0, allow_subnormal=False),
       points=st.lists(st.tuples(st.integers(0, 4800), st.floats(-60.0, 0.0, allow_subnormal=False)),
                       min_size=1, max_size=4, unique_by=lambda p: p[0]),
       seed=st.integers(0, 2**16), mix=st.sampled_from([1.0, 0.5]))
def test_a_moving_threshold_gives_what_the_real_compressor_gives_with_its_threshold_set_at_every_sample(
        ratio, attack, release, block, channels, kind, amplitude, points, seed, mix):
    frames = 4800  # 0.1 s: the reference makes one plug-in call per sample
    audio = _signal(kind, channels, frames, amplitude, seed)
    points = sorted(points)
    settings_ = {"ratio": ratio, "attack_ms": attack, "release_ms": release}
    ours, session = _compressed(audio, block, {**settings_, "threshold_db": -3.0},
                                *[(frame / SR, value) for frame, value in points], mix=mix)
    assert _stage_kinds(session) == [CompressorThreshold]
    times = np.array([frame for frame, _ in points], np.float64)
    thresholds = np.interp(np.arange(frames), times, [value for _, value in points])
    theirs = _sample_by_sample(audio, thresholds, settings_) * mix + audio * (1.0 - mix)  # the slot's wet/dry
    assert ours.shape == audio.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)  # float32 rounding; -100 dB


def test_a_ramp_moves_the_threshold_at_every_sample_not_on_the_32_sample_grid():
    """A steady tone pressed harder and harder: the gain changes from each sample to the next, not every 32."""
    audio = np.full((1, SR // 2), 0.5, np.float32)
    ours, _ = _compressed(audio, 512, {"ratio": 4.0, "attack_ms": 1.0, "threshold_db": 0.0},
                          (0.1, -10.0), (0.4, -40.0))
    ramp = ours[0, int(0.15 * SR):int(0.35 * SR)]
    assert np.all(np.diff(ramp) < 0)  # a new, lower gain at every sample
    expected = _sample_by_sample(audio[:, int(0.15 * SR) - 1000:int(0.35 * SR)],
                                 np.interp(np.arange(int(0.15 * SR) - 1000, int(0.35 * SR)),
                                           [0.1 * SR, 0.4 * SR], [-10.0, -40.0]),
                                 {"ratio": 4.0, "attack_ms": 1.0})[0, 1000:]
    np.testing.assert_allclose(ramp, expected, rtol=1e-5)


@pytest.mark.parametrize("block", [100, 512])
def test_where_the_envelope_holds_still_the_compressor_plays_as_if_set_to_that_value_all_along(block):
    """A dip from -10 to -30 dB and back, then -10 dB held: from there on, the very samples of a Compressor left at
    -10 dB throughout (its level detector never depended on the threshold)."""
    audio = program_signal(2, 0.5, seed=6)
    settings_ = {"ratio": 6.0, "attack_ms": 2.0, "release_ms": 80.0}
    ours, _ = _compressed(audio, block, {**settings_, "threshold_db": -3.0}, (0.0, -10.0), (0.1, -30.0, "smooth"),
                          (0.2, -10.0))
    still = pedalboard.Compressor(threshold_db=-10.0, **settings_).process(audio, SR, block, True)
    after = int(0.2 * SR)
    assert np.array_equal(ours[:, after:], still[:, after:])
    dip = slice(int(0.05 * SR), int(0.15 * SR))
    assert np.max(np.abs(ours[:, dip] - still[:, dip])) > 0.01  # the dip did compress harder


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=BLOCKS, seconds=st.floats(0.3, 1.5, allow_subnormal=False),
       where=st.floats(0.05, 0.95, allow_subnormal=False))
def test_a_step_in_a_compressor_threshold_lands_within_32_samples_of_its_time_whatever_the_block_size(
        block, seconds, where):
    audio = np.full((2, int(seconds * SR)), 0.5, np.float32)
    t = round(seconds * where, 4)
    # The level (-6 dB) never reaches 0 dB, so nothing is compressed until the step to -30 dB.
    out, _ = _compressed(audio, block, {"ratio": 4.0, "attack_ms": 0.5, "threshold_db": -12.0},
                         (0.0, 0.0, "step"), (t, -30.0))
    changed = np.flatnonzero(np.abs(out[0] - 0.5) > 1e-4)
    assert abs(int(changed[0]) - t * SR) <= GRID
    assert int(changed[0]) == round(t * SR)  # to the sample, in fact: the threshold is read at every sample
    assert np.array_equal(out[0], out[1])
    assert np.all(out[0, int(changed[0]) + 100:] < 0.1)  # and it stays compressed (4:1 above -30 dB)


def test_a_threshold_step_after_a_latent_plugin_acts_on_the_audio_that_was_there_at_its_time():
    """ZaMaximX2 delays by 480 samples; the compressor after it reads its envelope that much later, so the step
    lands at its time in the (aligned) output."""
    audio = np.full((2, SR), 0.1, np.float32)
    out, session = _compressed(audio, 512, {"ratio": 10.0, "attack_ms": 0.0, "threshold_db": 0.0},
                               (0.0, 0.0, "step"), (0.5, -40.0), before="ZaMaximX2")
    assert session.snapshot().latency == 480 and _stage_kinds(session) == [CompressorThreshold]
    level_before = np.abs(out[0, SR // 2 - 200: SR // 2 - 8]).min()
    assert level_before > 0.05 and np.abs(out[0, SR // 2 + 8: SR // 2 + 200]).max() < level_before / 5


def _live_session(signal: np.ndarray | None, mix: float, block: int = 128) -> Session:
    """A stereo track (a device input live, ``signal`` offline) through a Compressor whose threshold alone moves,
    at a wet/dry ``mix`` that does not, then a ZamCompX2 and a pan envelope."""
    session = Session(sample_rate=SR, block_size=block)
    source = ArraySource(signal, SR) if signal is not None else None
    track = session.add_track("gtr", source, input=() if signal is not None else (0, 1))
    comp = track.chain.add("Compressor", threshold_db=-12.0, ratio=6.0, attack_ms=2.0, release_ms=60.0)
    comp.set_mix(mix)
    track.chain.add("ZamCompX2", ratio=4.0, threshold_db=-18.0)
    _automate(track, SlotTarget(comp, "threshold_db"), (0.0, -6.0), (0.1, -36.0, "smooth"), (0.2, -20.0, "step"),
              (0.25, -3.0), (0.5, -30.0))
    _automate(track, StripTarget("pan"), (0.0, -0.6), (0.5, 0.6))
    return session


@pytest.mark.parametrize("mix", [1.0, 0.6])
def test_the_live_callback_plays_a_moving_compressor_threshold_as_the_offline_render_to_the_bit(mix):
    signal = program_signal(2, 0.6, seed=7)[:, : 128 * 220]
    live = _run(_started(_live_session(None, mix)), signal)
    offline_session = _live_session(signal, mix)
    assert _stage_kinds(offline_session) == [CompressorThreshold]
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
    still = _live_session(signal, mix)
    still.tracks[0].automation.pop(0)
    assert np.max(np.abs(render(still, tail=False).audio - offline)) > 0.05  # the threshold did move


def test_a_moving_compressor_threshold_on_a_file_played_under_jack_equals_the_offline_render(jack_server):
    from live_takes import assert_playback_equals_offline  # here: the rest of this file runs beside other tests

    signal = program_signal(2, 1.0, seed=13)

    def make() -> Session:
        return _live_session(signal, 0.7)  # a file track: its envelopes read at the transport position

    assert _stage_kinds(make()) == [CompressorThreshold]
    assert_playback_equals_offline(jack_server, make, signal.shape[1] + 80 * 128)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([32, 64, 100, 128, 512]))
def test_blocks_handed_one_at_a_time_give_the_samples_of_segments_of_many_blocks(block):
    """A render hands a stage up to 16,384 frames at a time, a live engine one block: the same samples."""
    def session() -> Session:
        return _live_session(program_signal(2, 0.6, seed=3), 0.8, block)

    offline = render_mix(session(), tail=False).audio
    assert np.array_equal(render_block_by_block(session(), block), offline)


def test_a_touch_holding_the_threshold_below_the_envelope_compresses_as_the_value_held():
    """A touch write holds a threshold (-50 dB) lower than any point of the envelope (-30..-10 dB): the blocks run
    at the value held, as the Compressor set to it by hand does."""
    audio = program_signal(2, 0.3, seed=9)
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    slot = track.chain.add("Compressor", threshold_db=-20.0, ratio=8.0)
    envelope = _automate(track, SlotTarget(slot, "threshold_db"), (0.0, -10.0), (0.3, -30.0))
    session.reset()
    snap = session.snapshot()
    for curve, _ in snap.automation.curves[id(envelope)]:
        curve.held = -50.0
    strip = np.zeros((2, 256), np.float32)
    out = np.zeros((2, audio.shape[1] // 256 * 256), np.float32)
    for pos in range(0, out.shape[1], 256):
        snap.tracks[0].render(audio[:, pos:pos + 256], strip, pos)
        out[:, pos:pos + 256] = strip
    by_hand = pedalboard.Compressor(threshold_db=-50.0, ratio=8.0)
    np.testing.assert_allclose(out, by_hand.process(audio[:, : out.shape[1]], SR, 256, False), rtol=1e-5,
                               atol=1e-6)


# -- where the threshold is not all that moves: cut as before ----------------------------------


@pytest.mark.parametrize("other", ["ratio", "attack_ms", "_mix"])
def test_a_compressor_with_another_automated_parameter_is_cut_on_the_grid(other):
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(np.zeros((1, SR // 10), np.float32), SR))
    slot = track.chain.add("Compressor")
    _automate(track, SlotTarget(slot, "threshold_db"), (0.0, 0.0), (0.1, -40.0))
    _automate(track, SlotTarget(slot, other), (0.0, 1.0), (0.1, 0.5 if other == "_mix" else 8.0))
    assert _stage_kinds(session) == [StageAutomation]


def test_a_compressor_whose_ratio_moves_too_plays_as_the_hand_cut_32_sample_loop():
    audio = np.vstack([program_signal(1, 0.5, seed=2)[0], program_signal(1, 0.5, seed=4)[0]])
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    slot = track.chain.add("Compressor", attack_ms=1.0)
    _automate(track, SlotTarget(slot, "threshold_db"), (0.0, 0.0), (0.5, -40.0))
    _automate(track, SlotTarget(slot, "ratio"), (0.0, 2.0), (0.5, 10.0))
    assert _stage_kinds(session) == [StageAutomation]
    ours = render(session, tail=False).audio

    by_hand = pedalboard.Compressor(attack_ms=1.0)
    theirs = np.zeros_like(audio)
    for i in range(0, audio.shape[1], GRID):
        by_hand.threshold_db = -40.0 * (i / (SR // 2))
        by_hand.ratio = 2.0 + 8.0 * (i / (SR // 2))
        theirs[:, i:i + GRID] = by_hand.process(audio[:, i:i + GRID], SR, 256, False)
    assert np.max(np.abs(ours[:, -SR // 8:])) < 0.5 * np.max(np.abs(audio[:, -SR // 8:]))  # it did compress
    np.testing.assert_array_equal(ours, theirs)  # the very calls of the hand-cut loop
