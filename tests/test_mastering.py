"""Loudness-targeted mastering: the factory presets land within 0.5 LU and under the ceiling."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, program_signal
from rackhost.chain import ArraySource, LoudnessTarget, Session, measure
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
    result = session.render()
    achieved = measure(result.audio, SR)  # measured again, independently of the renderer
    assert abs(achieved.integrated_lufs - lufs) <= 0.5
    assert achieved.true_peak_dbtp <= ceiling
    assert result.target_report is not None and result.target_report.within


def test_a_target_without_a_final_limiter_is_refused_clearly():
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(_music(2.0), SR))
    session.master.chain.add("Compressor")
    session.master.loudness_target = LoudnessTarget(-14.0, -1.0)
    with pytest.raises(LoudnessTargetError, match="needs a limiter as the last slot"):
        session.render()


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
