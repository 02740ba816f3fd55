"""Built-ins that buffer audio render aligned with their input at every block size and rate, live as offline.

MP3Compressor, Resample and BrickwallLimiter hand back fewer samples than
given until their buffer fills, and how many depends on the block they are
given (MP3Compressor: 3,609 at 128 frames, 3,481 at 256). rackhost measures
that latency at the session's block and trims it; the reference is pedalboard
called directly one block per call with ``reset=False``, which trims its own
latency, so what it hands back is aligned with what went in.

PitchShift and GSMFullRateCompressor lose audio when called block by block
(pedalboard clears their priming buffer at every call), so they are refused.
"""

from __future__ import annotations

import types

import numpy as np
import pedalboard
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rackhost.chain import ArraySource, Plugin, Session, render
from rackhost.live import LiveEngine
from rackhost.errors import PluginLoadError

STREAMING = ("MP3Compressor", "Resample", "BrickwallLimiter")
RATES = (44100, 48000, 96000)
MP3_RATES = (32000, 44100, 48000)
MP3_FRAME = 1152  # samples; pedalboard's MP3Compressor is right block by block only up to this block
OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)


def speech_band_noise(sample_rate: int, seconds: float = 0.5, seed: int = 3) -> np.ndarray:
    """Stereo noise in 300-3000 Hz (what a codec keeps) under a slow swell: no period for a correlation to slip by."""
    rng = np.random.default_rng(seed)
    frames = int(sample_rate * seconds)
    spectrum = np.fft.rfft(rng.standard_normal((2, frames)), axis=1)
    freqs = np.fft.rfftfreq(frames, 1 / sample_rate)
    spectrum[:, (freqs < 300) | (freqs > 3000)] = 0
    noise = np.fft.irfft(spectrum, frames, axis=1)
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * np.arange(frames) / sample_rate)
    return (0.5 * noise / np.max(np.abs(noise)) * swell).astype(np.float32)


def pedalboard_block_by_block(name: str, audio: np.ndarray, sample_rate: int, block: int,
                              buffer_size: int | None = None) -> np.ndarray:
    """pedalboard itself, one block per call as an engine calls it, fed silence past the end until all came back;
    ``buffer_size``: the pieces pedalboard cuts each call into (default: the block)."""
    processor = getattr(pedalboard, name)()
    padded = np.pad(audio, ((0, 0), (0, -(-(audio.shape[1] + sample_rate) // block) * block - audio.shape[1])))
    out = [processor.process(padded[:, i : i + block], sample_rate, buffer_size or block, False)
           for i in range(0, padded.shape[1], block)]
    return np.concatenate(out, axis=1)[:, : audio.shape[1]]


def lag_and_likeness(out: np.ndarray, audio: np.ndarray, max_lag: int = 4000) -> tuple[int, float]:
    """The lag (samples ``out`` is late) of the cross-correlation peak, and the normalised peak (1 = identical shape)."""
    corr = np.correlate(out[0], audio[0], mode="full")
    zero = audio.shape[1] - 1
    window = corr[zero - max_lag : zero + max_lag + 1]
    peak = int(np.argmax(window))
    energy = np.sqrt(np.dot(out[0], out[0]) * np.dot(audio[0], audio[0]))
    return peak - max_lag, float(window[peak] / energy) if energy else 0.0


def render_through(name: str, audio: np.ndarray, sample_rate: int, block: int):
    session = Session(sample_rate=sample_rate, block_size=block)
    session.add_track("t", ArraySource(audio, sample_rate)).chain.add(name)
    return render(session, tail=False)


@settings(max_examples=30, deadline=None)
@example(name="MP3Compressor", rate=44100, block=1976)  # blocks where pedalboard alone garbles it
@example(name="MP3Compressor", rate=48000, block=3747)
@given(
    name=st.sampled_from(STREAMING),
    rate=st.sampled_from(RATES),
    block=st.one_of(st.sampled_from([16, 128, 256, 512, 1024, 4096]), st.integers(16, 4096)),
)
def test_streaming_builtins_render_aligned_with_their_input_at_any_block_and_rate(name, rate, block):
    if name == "MP3Compressor" and rate not in MP3_RATES:
        rate = 48000  # 96 kHz is refused (see below)
    audio = speech_band_noise(rate)
    result = render_through(name, audio, rate, block)
    assert result.audio.shape == audio.shape
    lag, likeness = lag_and_likeness(result.audio, audio)
    assert lag == 0, f"{name} at {block} frames, {rate} Hz: output {lag} samples late (trimmed {result.latency})"
    assert likeness > 0.99  # not silent, not noise, not smeared: the input's shape comes through
    expected = pedalboard_block_by_block(name, audio, rate, block, min(block, MP3_FRAME) if name == "MP3Compressor" else None)
    np.testing.assert_allclose(result.audio, expected, atol=1e-6)


@pytest.mark.parametrize("block", [1213, 1269, 1976, 3747])
def test_pedalboard_still_garbles_mp3compressor_at_some_blocks_longer_than_an_mp3_frame(block):
    """Why rackhost hands MP3Compressor long blocks in pieces of one MP3 frame (_MAX_CALL_FRAMES in plugin.py).
    If this fails, pedalboard was fixed: the pieces can go."""
    audio = speech_band_noise(48000)
    lag, likeness = lag_and_likeness(pedalboard_block_by_block("MP3Compressor", audio, 48000, block), audio)
    assert lag != 0 or likeness < 0.9


@pytest.mark.parametrize("block", [128, 256, 300, 512, 4096])
def test_mp3compressor_latency_is_measured_at_the_block_it_runs_at(block):
    plugin = Plugin.create("MP3Compressor")
    plugin.configure(2, 48000)
    # Independently: what pedalboard holds back of a signal run one block per call at this block.
    audio = speech_band_noise(48000)
    processor = pedalboard.MP3Compressor()
    given_back = sum(processor.process(audio[:, i : i + block], 48000, min(block, MP3_FRAME), False).shape[1]
                     for i in range(0, audio.shape[1] - block + 1, block))
    assert plugin.latency(48000, block) == audio.shape[1] // block * block - given_back


def test_mp3compressor_at_96khz_is_refused_naming_the_rate():
    with pytest.raises(PluginLoadError, match=r"'MP3Compressor'.*96000 Hz.*sample rate"):
        render_through("MP3Compressor", speech_band_noise(96000), 96000, 512)


@pytest.mark.parametrize("name", ["PitchShift", "GSMFullRateCompressor"])
def test_builtins_that_lose_audio_block_by_block_are_refused_saying_why(name):
    with pytest.raises(PluginLoadError, match=rf"{name}.*block by block.*beforehand"):
        Plugin.create(name)
    session = Session(sample_rate=48000, block_size=512)
    track = session.add_track("t", ArraySource(speech_band_noise(48000), 48000))
    with pytest.raises(PluginLoadError):
        track.chain.add(name)


@pytest.mark.parametrize("name", ["PitchShift", "GSMFullRateCompressor"])
def test_pedalboard_still_loses_pitchshift_and_gsm_audio_block_by_block(name):
    """Why they are refused. If this fails, pedalboard was fixed: lift the refusal in plugin.py."""
    audio = speech_band_noise(48000, seconds=2.0)
    whole = getattr(pedalboard, name)().process(audio, 48000, 512, reset=True)
    assert lag_and_likeness(whole, audio)[1] > 0.3  # whole-buffer, it works
    blockwise = pedalboard_block_by_block(name, audio, 48000, 512)
    assert lag_and_likeness(blockwise, audio)[1] < 0.05  # one block per call, the input is lost


def _live_session(block: int, audio: np.ndarray | None) -> Session:
    session = Session(sample_rate=48000, block_size=block)
    track = session.add_track("mic", ArraySource(audio, 48000) if audio is not None else None,
                              input=() if audio is not None else (0, 1))
    track.chain.add("MP3Compressor")
    track.chain.add("BrickwallLimiter", lookahead_ms=2.0)
    return session


@pytest.mark.parametrize("block", [128, 512])
def test_live_blocks_null_against_the_offline_render_and_the_input_with_a_block_dependent_latency(block):
    audio = speech_band_noise(48000)[:, : block * (24000 // block)]
    session = _live_session(block, None)
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    engine.play()
    padded = np.pad(audio, ((0, 0), (0, 8 * 1024)))
    live = []
    try:
        for i in range(0, padded.shape[1], block):
            outdata = np.zeros((block, 2), np.float32)
            engine._callback(np.ascontiguousarray(padded[:, i : i + block].T), outdata, block, None, OK)
            live.append(outdata.T.copy())
    finally:
        engine.close()
    live_out = np.concatenate(live, axis=1)
    latency = session.snapshot().latency
    offline = render(_live_session(block, audio), tail=False)
    assert offline.latency == latency
    frames = audio.shape[1]
    np.testing.assert_array_equal(live_out[:, latency : latency + frames], offline.audio)  # live nulls offline
    assert lag_and_likeness(live_out[:, latency : latency + frames], audio)[0] == 0  # and both line up with the input
