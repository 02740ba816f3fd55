"""Block by block with state kept equals one whole-buffer pedalboard call."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Plugin, Session, render

STATEFUL = {
    "Reverb": dict(room_size=0.7),
    "Delay": dict(delay_seconds=0.05, feedback=0.4, mix=0.4),
    "Compressor": dict(threshold_db=-20, ratio=4),
    "Chorus": dict(),
    "Limiter": dict(threshold_db=-12),
    "ZamCompX2": dict(threshold_db=-25, ratio=5),
    "ZaMaximX2": dict(threshold_db=-6),
    "ZamGateX2": dict(threshold_db=-30),
}


def _whole_buffer(name: str, values: dict, audio: np.ndarray) -> np.ndarray:
    plugin = Plugin.create(name, **values).instance
    return plugin.process(audio, SR)  # reset=True: pedalboard compensates reported latency here


@pytest.mark.parametrize("block", [64, 128, 1000, 4096])
@pytest.mark.parametrize("name", list(STATEFUL))
def test_block_render_equals_whole_buffer(name, block):
    audio = program_signal(2, 1.0)
    session = Session(sample_rate=SR, block_size=block)
    session.add_track("t", ArraySource(audio, SR)).chain.add(name, **STATEFUL[name])
    rendered = render(session, tail=False)
    expected = _whole_buffer(name, STATEFUL[name], audio)
    assert rendered.audio.shape == expected.shape
    np.testing.assert_allclose(rendered.audio, expected, atol=1e-6)


def test_latent_plugin_output_is_trimmed_to_line_up_with_the_input():
    audio = program_signal(2, 0.5)
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(audio, SR)).chain.add("ZaMaximX2", threshold_db=-6)
    rendered = render(session, tail=False)
    assert rendered.latency == 480
    # Block by block the plug-in delays by its reported latency; rackhost trims that.
    raw = Plugin.create("ZaMaximX2", threshold_db=-6).instance
    blocks = [raw.process(audio[:, i : i + 128], SR, 128, False) for i in range(0, audio.shape[1], 128)]
    np.testing.assert_allclose(rendered.audio[:, : audio.shape[1] - 480], np.concatenate(blocks, 1)[:, 480:], atol=1e-6)


def test_fused_chain_equals_plugins_called_one_after_another():
    audio = program_signal(2, 1.0)
    session = Session(sample_rate=SR, block_size=256)
    chain = session.add_track("t", ArraySource(audio, SR)).chain
    chain.add("HighpassFilter", cutoff_frequency_hz=100)
    chain.add("ZamCompX2", threshold_db=-20, ratio=3)
    chain.add("Reverb", room_size=0.3)
    rendered = render(session, tail=False).audio
    expected = audio
    for slot_name, values in [("HighpassFilter", dict(cutoff_frequency_hz=100)),
                              ("ZamCompX2", dict(threshold_db=-20, ratio=3)),
                              ("Reverb", dict(room_size=0.3))]:
        expected = _whole_buffer(slot_name, values, expected)
    np.testing.assert_allclose(rendered, expected, atol=1e-6)


def test_two_renders_of_one_session_are_identical():
    session = Session(sample_rate=SR, block_size=128)
    chain = session.add_track("t", ArraySource(program_signal(2, 0.5), SR)).chain
    chain.add("Reverb", room_size=0.9)
    chain.add("ZamCompX2", threshold_db=-20)
    first = render(session).audio
    second = render(session).audio
    assert np.array_equal(first, second)


def test_bypassed_slot_passes_audio_untouched():
    audio = program_signal(2, 0.3)
    session = Session(sample_rate=SR, block_size=128)
    chain = session.add_track("t", ArraySource(audio, SR)).chain
    chain.add("Distortion", drive_db=40)
    chain.set_bypass(0)
    np.testing.assert_array_equal(render(session, tail=False).audio, audio)


def test_wet_dry_mix_blends_and_delays_the_dry_path_with_the_plugin():
    audio = program_signal(2, 0.5)
    mix = 0.25
    session = Session(sample_rate=SR, block_size=128)
    slot = session.add_track("t", ArraySource(audio, SR)).chain.add("ZaMaximX2", threshold_db=-12)
    slot.set_mix(mix)
    blended = render(session, tail=False).audio
    wet = _whole_buffer("ZaMaximX2", dict(threshold_db=-12), audio)
    # Both paths arrive aligned (the dry one delayed by the plug-in's 480 samples, then trimmed).
    np.testing.assert_allclose(blended, mix * wet + (1 - mix) * audio, atol=1e-5)


def test_builtin_that_buffers_internally_keeps_its_place_in_time():
    audio = program_signal(2, 0.5)
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(audio, SR)).chain.add("BrickwallLimiter", ceiling_db=-1.0)
    rendered = render(session, tail=False)
    assert rendered.latency == 240
    expected = pedalboard.BrickwallLimiter(ceiling_db=-1.0).process(audio, SR)
    np.testing.assert_allclose(rendered.audio, expected, atol=1e-6)


def _everything_session(block: int) -> Session:
    session = Session(sample_rate=SR, block_size=block)
    mono = session.add_track("mono", ArraySource(program_signal(1, 1.3, seed=2), SR), pan=-0.4, gain_db=-2)
    mono.chain.add("ZamCompX2", threshold_db=-25)  # stereo-only on mono
    mono.chain.add("Delay", delay_seconds=0.03, feedback=0.3).set_mix(0.5)
    widened = session.add_track("widened", ArraySource(program_signal(1, 0.9, seed=6), SR), pan=0.6)
    widened.chain.add("Reverb", room_size=0.2)  # mono
    widened.chain.add("MVerb").bypass = True  # still widens: the mono signal on both sides
    widened.chain.add("ZamComp", threshold_db=-25)  # mono-only after the widening: dual mono
    stereo = session.add_track("stereo", ArraySource(program_signal(2, 1.0, seed=3), SR), pan=0.2)
    stereo.chain.add("ZamComp", threshold_db=-20)  # mono-only on stereo: dual mono
    stereo.chain.add("ZaMaximX2", threshold_db=-6).set_mix(0.6)  # latent, with a delayed dry path
    stereo.chain.add("Reverb", room_size=0.5)
    stereo.chain.add("BrickwallLimiter")  # buffers internally
    session.master.chain.add("ZamCompX2", threshold_db=-18)
    session.master.chain.add("BrickwallLimiter", true_peak=True)
    return session


@pytest.mark.parametrize("block", [128, 512])
def test_one_block_per_call_equals_long_segments_bit_for_bit(block, monkeypatch):
    """What the live engine does (a segment is one block) gives the offline render's samples."""
    import rackhost.chain.offline as offline_module

    offline = render(_everything_session(block)).audio
    monkeypatch.setattr(offline_module, "SEGMENT_TARGET_FRAMES", block)
    live_like = render(_everything_session(block)).audio
    assert offline.shape == live_like.shape
    assert np.array_equal(offline, live_like)
