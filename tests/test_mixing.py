"""Tracks summed into the master: gain, constant-power pan, mute, solo, delay compensation, sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Session, render, render_to_file
from rackhost.chain.dsp import pan_gains
from rackhost.errors import AudioFileError


def _const(value: float, frames: int, channels: int = 1) -> np.ndarray:
    return np.full((channels, frames), value, np.float32)


def test_two_tracks_sum_with_gain_and_constant_power_pan():
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("mono", ArraySource(_const(0.5, 1000), SR), gain_db=-6.0, pan=-0.5)
    session.add_track("stereo", ArraySource(program_signal(2, 1000 / SR), SR), pan=0.25)
    session.master.gain_db = -3.0
    out = render(session, tail=False).audio
    g = 10 ** (-6 / 20)
    angle = (-0.5 + 1) * math.pi / 4
    stereo = program_signal(2, 1000 / SR)
    bal_l = min(1.0, math.cos((0.25 + 1) * math.pi / 4) * math.sqrt(2))
    expected_l = 0.5 * g * math.cos(angle) + stereo[0] * bal_l
    expected_r = 0.5 * g * math.sin(angle) + stereo[1] * 1.0
    master = 10 ** (-3 / 20)
    np.testing.assert_allclose(out[0], expected_l * master, atol=1e-6)
    np.testing.assert_allclose(out[1], expected_r * master, atol=1e-6)


def test_pan_law_keeps_power_constant_for_mono():
    for pan in np.linspace(-1, 1, 9):
        left, right = pan_gains(float(pan), 1)
        assert left**2 + right**2 == pytest.approx(1.0)
    assert pan_gains(0.0, 2) == pytest.approx((1.0, 1.0))  # stereo balance: unity at centre
    assert pan_gains(1.0, 2) == pytest.approx((0.0, 1.0))


def test_mute_and_solo():
    session = Session(sample_rate=SR, block_size=128)
    a = session.add_track("a", ArraySource(_const(0.1, 512, 2), SR))
    b = session.add_track("b", ArraySource(_const(0.2, 512, 2), SR))
    c = session.add_track("c", ArraySource(_const(0.4, 512, 2), SR))
    assert render(session, tail=False).audio[0, 0] == pytest.approx(0.7)
    a.mute = True
    assert render(session, tail=False).audio[0, 0] == pytest.approx(0.6)
    b.solo = True
    assert render(session, tail=False).audio[0, 0] == pytest.approx(0.2)
    c.solo = True
    assert render(session, tail=False).audio[0, 0] == pytest.approx(0.6)
    b.mute = True  # mute beats solo
    assert render(session, tail=False).audio[0, 0] == pytest.approx(0.4)


def _click(frames: int, at: int, value: float = 0.25) -> np.ndarray:
    audio = np.zeros((2, frames), np.float32)
    audio[:, at] = value
    return audio


def test_delay_compensation_aligns_a_latent_track_with_a_plain_one():
    session = Session(sample_rate=SR, block_size=128)
    latent = session.add_track("maxim", ArraySource(_click(8000, 3000), SR))
    latent.chain.add("ZaMaximX2")  # 480 samples of lookahead
    session.add_track("plain", ArraySource(_click(8000, 3000), SR))
    session.master.chain.add("Gain", gain_db=0.0)
    result = render(session, tail=False)
    assert result.latency == 480
    # Without compensation the clicks would land 480 samples apart; aligned, they add up.
    peak_at = int(np.argmax(np.abs(result.audio[0])))
    assert peak_at == 3000
    assert np.count_nonzero(np.abs(result.audio[0]) > 0.05) <= 3


def test_tracks_of_different_lengths_render_to_the_longest():
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("short", ArraySource(_const(0.1, 1000), SR))
    session.add_track("long", ArraySource(_const(0.1, 5000, 2), SR))
    out = render(session, tail=False).audio
    assert out.shape == (2, 5000)
    assert out[0, 999] == pytest.approx(0.1 * math.cos(math.pi / 4) + 0.1)
    assert out[0, 1000] == pytest.approx(0.1)


def test_mono_and_stereo_files_make_mono_and_stereo_tracks(wav_file):
    session = Session(sample_rate=SR, block_size=128)
    mono = session.add_track("m", wav_file(program_signal(1, 0.2), "m.wav"))
    stereo = session.add_track("s", wav_file(program_signal(2, 0.2), "s.flac"))
    assert (mono.channels, stereo.channels) == (1, 2)
    assert render(session, tail=False).audio.shape == (2, int(0.2 * SR))


def test_a_file_at_another_rate_is_resampled_with_a_note(wav_file):
    t = np.arange(44100) / 44100
    path = wav_file((0.5 * np.sin(2 * np.pi * 1000 * t))[None, :], "tone44k.wav", sr=44100)
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", path)
    result = render(session, tail=False)
    assert abs(result.audio.shape[1] - SR) <= 1
    assert any("resampled from 44100 Hz" in n for n in result.notes)
    spectrum = np.abs(np.fft.rfft(result.audio[0]))
    assert np.argmax(spectrum) * SR / result.audio.shape[1] == pytest.approx(1000, abs=2)


def test_reverb_tail_is_rendered_until_it_falls_below_minus_90_dbfs():
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("t", ArraySource(program_signal(2, 0.5), SR)).chain.add("Reverb", room_size=0.8)
    with_tail = render(session)
    assert with_tail.tail_frames > SR // 2
    # It ends where the tail crosses -90 dBFS: the last samples are that quiet, and no louder.
    assert 10 ** (-100 / 20) < np.max(np.abs(with_tail.audio[:, -256:])) < 10 ** (-80 / 20)
    assert np.max(np.abs(with_tail.audio[:, -with_tail.tail_frames :])) > 1e-3
    assert render(session, tail=False).audio.shape[1] == SR // 2


def test_endless_feedback_stops_at_the_maximum_tail():
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("t", ArraySource(program_signal(2, 0.2), SR)).chain.add(
        "Delay", delay_seconds=0.1, feedback=1.0, mix=0.5
    )
    result = render(session, max_tail_seconds=1.0)
    assert result.tail_frames == SR


def test_threads_do_not_change_a_single_bit():
    session = Session(sample_rate=SR, block_size=128)
    for i in range(5):
        chain = session.add_track(f"t{i}", ArraySource(program_signal(2, 0.5, seed=i), SR), pan=i / 5).chain
        chain.add("ZamCompX2", threshold_db=-20)
        chain.add("Reverb", room_size=0.2 * i)
    session.master.chain.add("Limiter")
    assert np.array_equal(render(session, threads=1).audio, render(session, threads=2).audio)


def test_render_to_file_writes_24_bit_wav_by_default(tmp_path):
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(program_signal(2, 0.2), SR))
    result = render_to_file(session, tmp_path / "out.wav")
    info = sf.info(tmp_path / "out.wav")
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_24", SR, 2)
    assert info.frames == result.audio.shape[1]
    for name, depth, subtype in [("o.flac", 16, "PCM_16"), ("o.aiff", 24, "PCM_24"), ("o.wav", 32, "FLOAT")]:
        render_to_file(session, tmp_path / name, bit_depth=depth)
        assert sf.info(tmp_path / name).subtype == subtype
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    assert (tmp_path / "out.wav").stat().st_mode & 0o044 == 0o044  # readable by others, like any new file


def test_overs_are_counted_and_clipped_in_fixed_point_files(tmp_path):
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(_const(0.9, 1000, 2), SR), gain_db=6.0)
    result = render_to_file(session, tmp_path / "hot.wav")
    assert result.clipped_samples == 2000
    assert np.max(sf.read(tmp_path / "hot.wav")[0]) <= 1.0


def test_unsupported_output_format_fails_before_rendering(tmp_path):
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(_const(0.1, 100), SR))
    with pytest.raises(AudioFileError, match="unsupported output format '.mp3'"):
        render_to_file(session, tmp_path / "out.mp3")
    with pytest.raises(AudioFileError, match="cannot be written at 32 bits"):
        render_to_file(session, tmp_path / "out.flac", bit_depth=32)


def test_chain_editing_add_remove_move_replace():
    from rackhost.chain import Chain, Plugin

    chain = Chain()
    chain.add("Gain", gain_db=-3)
    chain.add("Compressor")
    chain.add("Reverb")
    chain.move("Reverb", 0)
    assert [s.name for s in chain] == ["Reverb", "Gain", "Compressor"]
    old = chain.replace(1, Plugin.create("Limiter"))
    assert old.name == "Gain" and [s.name for s in chain] == ["Reverb", "Limiter", "Compressor"]
    chain.remove("Reverb")
    chain.set_bypass("Compressor")
    assert [s.name for s in chain.active()] == ["Limiter"]
    with pytest.raises(KeyError, match="holds Limiter, Compressor"):
        chain.remove("Delay")


def test_a_slow_delays_quiet_gaps_do_not_end_its_tail():
    click = np.zeros((2, 4800), np.float32)
    click[:, 0] = 0.5
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("t", ArraySource(click, SR)).chain.add("Delay", delay_seconds=0.6, feedback=0.5, mix=0.5)
    audio = render(session).audio
    echoes = [int(0.6 * SR * k) for k in (1, 2, 3, 4)]
    for at in echoes:  # each echo, 0.6 s after the last, with silence between
        assert np.max(np.abs(audio[0, at - 10 : at + 10])) > 1e-3, at
