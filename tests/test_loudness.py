"""Loudness report: BS.1770 integrated loudness and 4x-oversampled true peak."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import SR
from rackhost.chain.loudness import measure


def test_full_scale_997_hz_sine_in_both_channels_reads_0_lufs():
    t = np.arange(SR * 3) / SR
    sine = np.sin(2 * np.pi * 997 * t) * 10 ** (-20 / 20)
    report = measure(np.vstack([sine, sine]), SR)
    assert report.integrated_lufs == pytest.approx(-20.0, abs=0.1)
    assert report.peak_dbfs == pytest.approx(-20.0, abs=0.01)


def test_true_peak_finds_the_peak_between_samples():
    t = np.arange(SR) / SR
    # A quarter of the sample rate, 45 degrees off: every sample lands at 0.707 of the crest.
    sine = 0.5 * np.sin(2 * np.pi * (SR / 4) * t + math.pi / 4)
    report = measure(np.vstack([sine, sine]), SR)
    assert report.peak_dbfs == pytest.approx(20 * math.log10(0.5 * math.sqrt(0.5)), abs=0.05)
    assert report.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.3)


def test_short_or_silent_audio_has_no_misleading_numbers():
    short = measure(np.zeros((2, 1000)), SR)
    assert short.integrated_lufs is None and short.peak_dbfs == -math.inf
    silent = measure(np.zeros((2, SR)), SR)
    assert silent.integrated_lufs == -math.inf
    assert silent.to_dict()["integrated_lufs"] is None


def _reference_true_peak_db(audio: np.ndarray) -> float:
    """The peak of the signal oversampled 16x by scipy, away from the ends (where the filter rings)."""
    from scipy.signal import resample_poly

    up = resample_poly(audio, 16, 1, axis=1)[:, 16 * 64 : -16 * 64]
    return 20 * math.log10(float(np.max(np.abs(up))))


@pytest.mark.parametrize("rate", [96000, 192000])
def test_true_peak_at_high_rates_finds_a_quarter_rate_sine_crest_between_samples(rate):
    """Above 96 kHz BS.1770 oversamples 2x, at 96 kHz 4x: both land on this crest exactly."""
    t = np.arange(rate // 2) / rate
    sine = 0.5 * np.sin(2 * np.pi * (rate / 4) * t + math.pi / 4)  # every sample at 0.707 of the crest
    report = measure(np.vstack([sine, sine]), rate)
    assert report.peak_dbfs == pytest.approx(20 * math.log10(0.5 * math.sqrt(0.5)), abs=0.05)
    assert report.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.05)
    assert report.true_peak_dbtp == pytest.approx(_reference_true_peak_db(np.vstack([sine, sine])), abs=0.05)


@settings(max_examples=30, deadline=None)
@given(rate=st.sampled_from([96000, 192000]),
       cycle=st.integers(5, 24), phase=st.floats(0.0, 2 * math.pi, allow_subnormal=False),
       amplitude=st.floats(0.1, 1.0), width=st.floats(0.3, 1.0))
def test_true_peak_at_96_and_192_khz_agrees_with_16x_oversampling(rate, cycle, phase, amplitude, width):
    """Tones of 4-19.2 kHz a whole number of samples long, so every cycle's samples miss the crest alike.

    The sample peak reads up to 1.7 dB low; BS.1770's 4x (2x above 96 kHz) reads within 0.12 dB.
    """
    period = cycle * rate // 96000  # samples per cycle: 5..24 at 96 kHz, 10..48 at 192 kHz
    t = np.arange(int(0.1 * rate)) / rate
    left = amplitude * np.sin(2 * np.pi * (rate / period) * t + phase)
    audio = np.vstack([left, width * left])
    reference = _reference_true_peak_db(audio)
    report = measure(audio, rate)
    assert report.true_peak_dbtp >= report.peak_dbfs
    assert report.true_peak_dbtp == pytest.approx(reference, abs=0.12)


def _signal(channels: int, frames: int, rate: int, seed: int, silent: bool) -> np.ndarray:
    """Noise with a level that moves (the gates have work) or silence, shaped (channels, frames)."""
    if silent:
        return np.zeros((channels, frames), np.float32)
    rng = np.random.default_rng(seed)
    level = 0.05 + 0.5 * (np.sin(np.arange(frames) / rate * 2.3) > 0.2)  # a quiet stretch and a loud one
    return (rng.standard_normal((channels, frames)) * level).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(frames=st.one_of(st.integers(1, 200), st.integers(200, int(0.4 * SR)), st.integers(int(0.4 * SR), 3 * SR)),
       feed=st.one_of(st.integers(1, 300), st.integers(300, 70000)), channels=st.sampled_from([1, 2]),
       rate=st.sampled_from([44100, 48000]), silent=st.booleans(), float32=st.booleans(), seed=st.integers(0, 99))
# 85 frames a frame at a time: the first oversampled chunk is shorter than the context kept for the next
@example(frames=85, feed=1, channels=1, rate=44100, silent=False, float32=False, seed=1)
def test_a_meter_fed_block_by_block_reads_what_measure_reads_of_the_whole_signal(frames, feed, channels, rate,
                                                                                 silent, float32, seed):
    # Any length (a few frames, under one 400 ms gating block, off the gating grid), any block size, silence:
    # the figures the batch records for its input, read as the render reads the file, are measure()'s.
    from rackhost.chain.loudness import StreamMeter

    audio = _signal(channels, frames, rate, seed, silent)
    meter = StreamMeter(rate, channels, np.float32 if float32 else np.float64)
    feed = max(feed, frames // 300)  # a few hundred blocks at most: single frames over 3 s would only be slow
    for start in range(0, frames, feed):
        meter.add(audio[:, start: start + feed])
    got, want = meter.report(), measure(audio, rate)
    assert got.seconds == want.seconds
    assert got.peak_dbfs == want.peak_dbfs
    if want.integrated_lufs is None or want.integrated_lufs == -math.inf:
        assert got.integrated_lufs == want.integrated_lufs
    else:
        assert got.integrated_lufs is not None and abs(got.integrated_lufs - want.integrated_lufs) <= 1e-6
    if want.true_peak_dbtp == -math.inf:
        assert got.true_peak_dbtp == -math.inf
    else:
        assert abs(got.true_peak_dbtp - want.true_peak_dbtp) <= 1e-4
    assert meter.report() is meter.report()  # asking twice does not read the end twice


def _resample_poly_true_peak(audio: np.ndarray, rate: int) -> float:
    """The true peak as rackhost computed it before it convolved phase by phase: scipy's resample_poly over the
    whole signal, its 20 frames at each end left out when the signal is longer than 80 frames."""
    from scipy.signal import resample_poly

    factor = 2 if rate > 96000 else 4
    up = resample_poly(audio, factor, 1, axis=1)
    if up.shape[1] > 80 * factor:
        up = up[:, 20 * factor: -20 * factor]
    return float(max(np.max(np.abs(up)), np.max(np.abs(audio))))


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(1, 4000), channels=st.integers(1, 2), rate=st.sampled_from([44100, 48000, 96000, 192000]),
       seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       shape=st.sampled_from(["noise", "clicks", "quarter-rate sine"]))
@example(frames=81, channels=2, rate=48000, seed=0, dtype=np.float64, shape="noise")
@example(frames=80, channels=1, rate=192000, seed=1, dtype=np.float32, shape="clicks")
def test_true_peak_by_phases_reads_what_resample_poly_read(frames, channels, rate, seed, dtype, shape):
    """The phase-by-phase convolution is the same filter as resample_poly's, every phase, both ends' rule
    (edges left out above 80 frames, silence around a shorter signal), float32 and float64 input."""
    from rackhost.chain.loudness import true_peak

    rng = np.random.default_rng(seed)
    if shape == "noise":
        audio = rng.uniform(-1, 1, (channels, frames))
    elif shape == "clicks":
        audio = np.zeros((channels, frames))
        audio[:, rng.integers(0, frames, 3)] = rng.choice([-1.0, 1.0], 3)
    else:
        audio = np.tile(np.sin(2 * np.pi * np.arange(frames) / 4 + math.pi / 4), (channels, 1))
    audio = audio.astype(dtype)
    expected = _resample_poly_true_peak(audio.astype(np.float64), rate)
    assert true_peak(audio, rate) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(1, 70000), start=st.integers(10, 60), channels=st.integers(1, 2),
       rate=st.sampled_from([44100, 48000, 96000, 192000]), seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from(["noise", "clicks", "quarter-rate sine", "high tones"]))
@example(frames=32768 * 2 + 1, start=10, channels=2, rate=48000, seed=3, shape="quarter-rate sine")
@example(frames=8192 * 3 + 5, start=17, channels=2, rate=192000, seed=5, shape="high tones")  # across spans, 2x
def test_the_float32_true_peak_sums_read_what_the_float64_convolution_reads(frames, start, channels, rate, seed,
                                                                             shape):
    """The input's true peak (the batch's "before") is summed in float32 over spans (the frame pairs a tap shares
    as rows of a matrix, each phase a product with its taps), each phase pair read from its sum and difference: any length and start (across spans too), both oversamplings (4x, and 2x
    above 96 kHz), peaks between samples larger than the samples: the float64 convolution's value."""
    from rackhost.chain.loudness import TRUE_PEAK_REACH, interpolated_peak

    rng = np.random.default_rng(seed)
    total = start + frames + TRUE_PEAK_REACH
    t = np.arange(total)
    if shape == "noise":
        audio = rng.uniform(-1, 1, (channels, total))
    elif shape == "clicks":
        audio = np.zeros((channels, total))
        audio[:, rng.integers(0, total, 3)] = rng.choice([-1.0, 1.0], 3)
    elif shape == "quarter-rate sine":  # every sample at 0.707 of the crest
        audio = np.tile(np.sin(2 * np.pi * t / 4 + math.pi / 4), (channels, 1))
    else:  # near the top of the band, where the phases between samples read most above the samples
        audio = np.vstack([np.sin(2 * np.pi * t * rng.uniform(0.3, 0.49) + rng.uniform(0, 6)) for _ in range(channels)])
    audio = (audio * rng.uniform(0.01, 1.0)).astype(np.float32)
    want = interpolated_peak(audio, start, start + frames, rate)
    got = interpolated_peak(audio, start, start + frames, rate, np.float32)
    if want == 0.0:  # clicks that all fell outside the frames read
        assert got == 0.0
    else:
        assert abs(20 * math.log10(got / want)) <= 1e-4


@settings(max_examples=40, deadline=None)
@given(pieces=st.integers(4, 40), off=st.integers(-2, 2), feed=st.one_of(st.integers(1, 5000), st.integers(5000, 70000)),
       channels=st.sampled_from([1, 2]), rate=st.sampled_from([44100, 48000, 96000, 192000]),
       float32=st.booleans(), seed=st.integers(0, 99))
def test_a_meter_reads_measure_at_lengths_on_and_off_the_gating_grid_at_every_rate(pieces, off, feed, channels,
                                                                                  rate, float32, seed):
    """The gating blocks are summed from their four 100 ms pieces: a signal ending on a piece's bound, a frame
    either side, or anywhere in one, fed in blocks of any size, reads measure()'s loudness and true peak."""
    from rackhost.chain.loudness import GATE_BLOCK_SECONDS, GATE_STEP, StreamMeter

    frames = max(1, int(GATE_BLOCK_SECONDS * (pieces * GATE_STEP) * rate) + off)
    audio = _signal(channels, frames, rate, seed, silent=False)
    meter = StreamMeter(rate, channels, np.float32 if float32 else np.float64)
    feed = max(feed, frames // 200)
    for begin in range(0, frames, feed):
        meter.add(audio[:, begin: begin + feed])
    got, want = meter.report(), measure(audio, rate)
    assert got.seconds == want.seconds and got.peak_dbfs == want.peak_dbfs
    if want.integrated_lufs is None:  # a frame short of one gating block
        assert got.integrated_lufs is None
    else:
        assert abs(got.integrated_lufs - want.integrated_lufs) <= 1e-6  # well inside the 0.01 LU the manifest shows
    assert abs(got.true_peak_dbtp - want.true_peak_dbtp) <= 1e-4


def _summed_peak_row_by_row(audio: np.ndarray, start: int, end: int, rate: int) -> float:
    """The float32 true peak with its tap pairs built as they were first written, one row (one pair of window
    frames) at a time; the same spans, buffers and products: what the one-call build must reproduce bit for bit."""
    from rackhost.chain.loudness import _SUMMED_SPAN, TRUE_PEAK_REACH, _phase_taps

    center, phases = _phase_taps(2 if rate > 96000 else 4)
    peak = 0.0
    for channel in audio:
        peak = max(peak, center * float(max(channel[start:end].max(), -channel[start:end].min())))
    reach, width = TRUE_PEAK_REACH, len(phases[0])
    half = width // 2
    own, outer = phases[len(phases) // 2], (phases[0] if len(phases) == 3 else None)
    on_sums = np.array([own[:half]] + ([outer[:half] + outer[::-1][:half]] if outer is not None else []), np.float32)
    channels, span = audio.shape[0], min(_SUMMED_SPAN, end - start)
    sums, differences = np.empty((half, channels * span), np.float32), np.empty((half, channels * span), np.float32)
    for lo in range(start, end, span):
        n = min(end, lo + span) - lo
        x = np.asarray(audio[:, lo - reach + 1: lo + n + reach], np.float32)
        pairs, apart = sums[:, : channels * n], differences[:, : channels * n]
        rows, apart_rows = pairs.reshape(half, channels, n), apart.reshape(half, channels, n)
        for q in range(half):
            late, early = x[:, width - 1 - q: width - 1 - q + n], x[:, q: q + n]
            np.add(late, early, out=rows[q])
            np.subtract(late, early, out=apart_rows[q])
        phased = on_sums @ pairs
        peak = max(peak, float(phased[0].max()), -float(phased[0].min()))
        if outer is not None:
            both = np.abs(phased[1]) + np.abs((np.array([outer[:half] - outer[::-1][:half]], np.float32) @ apart)[0])
            peak = max(peak, 0.5 * float(both.max()))
    return peak


@settings(max_examples=60, deadline=None)
@given(frames=st.one_of(st.integers(1, 300), st.integers(300, 40000)), start=st.integers(10, 40),
       channels=st.integers(1, 2), rate=st.sampled_from([44100, 48000, 96000, 192000]),
       seed=st.integers(0, 2**32 - 1), layout=st.sampled_from(["rows", "columns", "reversed", "float64"]))
@example(frames=8192 * 2 + 3, start=10, channels=2, rate=48000, seed=7, layout="rows")  # across spans, 4x
@example(frames=8192 + 1, start=13, channels=1, rate=192000, seed=8, layout="reversed")  # across spans, 2x
def test_the_float32_true_peak_builds_its_tap_pairs_in_one_call_to_the_bits_of_row_by_row(frames, start, channels,
                                                                                          rate, seed, layout):
    """The input's true peak (the batch's "before") adds and subtracts every mirrored pair of window frames in
    one call over strided views, where it made one call a pair: the same float32 sums in the same buffers and
    the same products, so the same value to the last bit, for any length, start, width and memory layout."""
    from rackhost.chain.loudness import TRUE_PEAK_REACH, interpolated_peak

    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal((channels, start + frames + TRUE_PEAK_REACH)) * rng.uniform(0.01, 1.0))
    audio = audio.astype(np.float64 if layout == "float64" else np.float32)
    if layout == "columns":
        audio = np.asfortranarray(audio)
    elif layout == "reversed":
        audio = audio[:, ::-1]
    want = _summed_peak_row_by_row(audio, start, start + frames, rate)
    assert interpolated_peak(audio, start, start + frames, rate, np.float32) == want
