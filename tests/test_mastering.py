"""Loudness-targeted mastering: the factory presets land within 0.5 LU and under the ceiling."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from conftest import SR, program_signal
from rackhost.chain import ArraySource, LoudnessTarget, Session, measure, render
from rackhost.chain.mastering import LoudnessTargetError
from rackhost.presets.apply import apply_preset
from rackhost.presets.store import PresetStore


def _music(seconds: float = 12.0) -> np.ndarray:
    """A quiet, dynamic mix-like signal: bass notes, a beat, noise."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(7)
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(t.size) * 0.3
    bass = 0.15 * np.sin(2 * np.pi * 55 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    return np.vstack([bass + beat, bass + 0.8 * beat]).astype(np.float32)


def _speech_like(seconds: float = 12.0) -> np.ndarray:
    return program_signal(1, seconds) * 0.2


@pytest.mark.parametrize("ref, lufs, ceiling", [("mastering/streaming", -14.0, -1.0), ("mastering/cd", -9.0, -0.3)])
@pytest.mark.parametrize("signal", [_music, _speech_like])
def test_mastering_presets_land_on_their_loudness_target(ref, lufs, ceiling, signal):
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(signal(), SR))
    apply_preset(PresetStore().load(ref), session)
    assert session.master.loudness_target == LoudnessTarget(lufs, ceiling)
    result = render(session)
    achieved = measure(result.audio, SR)  # measured again, independently of the renderer
    assert abs(achieved.integrated_lufs - lufs) <= 0.5
    assert achieved.true_peak_dbtp <= ceiling
    assert result.target_report is not None and result.target_report.within


FACTORY_MASTERING = sorted(p.stem for p in (Path(__file__).parents[1] / "presets" / "mastering").glob("*.json"))


def _independent_lufs_and_true_peak(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """pyloudnorm's integrated loudness, and the sample peak of the signal oversampled 8x by scipy."""
    lufs = pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64))
    peak = float(np.max(np.abs(resample_poly(audio.astype(np.float64), 8, 1, axis=1)[:, 400:-400])))
    return lufs, 20 * math.log10(peak)


@pytest.mark.parametrize("level", [1.0, 0.3])  # peaks near -6 dBFS, and a mix left with 10 dB more headroom
@pytest.mark.parametrize("name", FACTORY_MASTERING)
def test_factory_mastering_presets_land_in_at_most_three_passes(name, level):
    """The first pass predicts the gain (the limiter run alone on what reaches it); one full pass checks it."""
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(program_signal(2, 8.0) * np.float32(level), SR))
    preset = PresetStore().load(f"mastering/{name}")
    apply_preset(preset, session)
    result = render(session)
    report = result.target_report
    assert report is not None and report.passes <= 3, report.history
    lufs, true_peak = _independent_lufs_and_true_peak(result.audio, SR)
    assert abs(lufs - preset.loudness_target_lufs) <= 0.5
    assert true_peak <= preset.true_peak_ceiling_dbtp + 0.05  # 8x here, 4x in BS.1770: within a hair


def test_a_target_without_a_final_limiter_is_refused_clearly():
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(_music(2.0), SR))
    session.master.chain.add("Compressor")
    session.master.loudness_target = LoudnessTarget(-14.0, -1.0)
    with pytest.raises(LoudnessTargetError, match="needs a limiter as the last slot"):
        render(session)


def test_render_cli_with_the_streaming_preset(tmp_path, wav_file):
    source = wav_file(_music(), "mix.wav")
    out = tmp_path / "master.wav"
    run = subprocess.run(
        [sys.executable, "-m", "rackhost.cli", "render", str(source), "-o", str(out), "--preset", "mastering/streaming"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "loudness target  -14.00 LUFS" in run.stdout and "within target" in run.stdout
    audio, rate = sf.read(out, always_2d=True)
    report = measure(audio.T, rate)
    assert abs(report.integrated_lufs + 14.0) <= 0.5 and report.true_peak_dbtp <= -1.0


def _sparse_hits(seconds: float = 4.0) -> np.ndarray:
    """Short hits between silences: a limiter holds each at its ceiling, so gain stops adding loudness."""
    out = np.zeros((2, int(seconds * SR)), np.float32)
    for start in range(0, out.shape[1] - 200, SR // 2):
        out[:, start : start + 200] = 0.5
    return out


def test_an_unreachable_target_stops_early_with_the_reason_and_the_cli_exits_1(tmp_path):
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("hits", ArraySource(_sparse_hits(), SR))
    session.master.chain.add("BrickwallLimiter", ceiling_db=-1.0, true_peak=True)
    session.master.loudness_target = LoudnessTarget(-14.0, -1.0)
    report = render(session).target_report
    # Independent of rackhost: the hits alone, each held at the ceiling, are far below -14 LUFS.
    ceiling_hits = _sparse_hits() / 0.5 * 10 ** (-1 / 20)
    assert pyloudnorm.Meter(SR).integrated_loudness(ceiling_hits.T) < -20.0
    assert not report.within and report.passes <= 3
    assert "loudness stops rising with gain" in report.reason and "lower the target" in report.reason
    assert any(line.startswith("why") for line in report.lines())

    source = tmp_path / "hits.wav"
    sf.write(source, _sparse_hits().T, SR, subtype="FLOAT")
    run = subprocess.run([sys.executable, "-m", "rackhost.cli", "render", str(source), "-o", str(tmp_path / "o.wav"),
                          "--preset", "mastering/streaming"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "MISSED" in run.stdout and "loudness stops rising with gain" in run.stdout
    assert run.stderr.strip().splitlines()[-1].startswith("rackhost: warning: the loudness target was missed")
    assert sf.info(str(tmp_path / "o.wav")).frames == _sparse_hits().shape[1]  # written, as it came out
