"""Loudness-matched shoot-outs: `rackhost compare` on real chains, and the matching and spectrum functions under it.

The command runs in a subprocess on real plug-ins (pedalboard built-ins,
ZamCompX2, and ZaMaximX2 with its 480 samples of latency); what it writes is
read back and measured independently (pyloudnorm, numpy, scipy).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SR, program_signal
from test_cli_inputs import assert_one_error_line, listing
from rackhost.chain.matching import Level, MatchError, match_loudness, measure_side, plan_match
from rackhost.chain.spectrum import average_spectrum, log_bands

# Each changes the input's loudness by 3-10 LU (checked below), one louder, three quieter or louder by dynamics.
CHAINS = {
    "A": "Gain(gain_db=6)",
    "B": "Compressor(threshold_db=-24, ratio=4); Gain(gain_db=4)",
    "C": "ZamCompX2(threshold_db=-24, ratio=4); Gain(gain_db=3)",
    "D": "ZaMaximX2(threshold_db=-6)",  # reports 480 samples of latency
}
CANDIDATES = [arg for chain in CHAINS.values() for arg in ("--chain", chain)]


def rackhost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, timeout=300)


def lufs(path: Path) -> float:
    audio, rate = sf.read(path, always_2d=True)
    return pyloudnorm.Meter(rate).integrated_loudness(audio)


def reference_true_peak_db(audio: np.ndarray) -> float:
    """16x oversampled by scipy, away from the ends where the filter rings: independent of rackhost's 4x."""
    from scipy.signal import resample_poly

    up = resample_poly(audio, 16, 1, axis=0)[16 * 64 : -16 * 64]
    return 20 * math.log10(float(np.max(np.abs(up))))


@pytest.fixture(scope="module")
def shootout(tmp_path_factory):
    """One compare of the four chains, with --json: (folder, the report from stdout, the original input)."""
    folder = tmp_path_factory.mktemp("compare")
    source = program_signal(2, 6.0)
    sf.write(folder / "in.wav", source.T, SR, subtype="PCM_24")
    run = rackhost("compare", str(folder / "in.wav"), "-o", str(folder / "out"), *CANDIDATES, "--json")
    assert run.returncode == 0, run.stderr
    return folder / "out", json.loads(run.stdout), folder / "in.wav"


def test_each_chain_changes_loudness_by_3_to_10_lu_and_every_matched_file_plays_within_0_2_lu(shootout):
    out, report, original = shootout
    by_label = {side["label"]: side for side in report["sides"]}
    source_lufs = lufs(original)
    for label in CHAINS:
        change = by_label[label]["measured"]["integrated_lufs"] - source_lufs
        assert 3.0 <= abs(change) <= 10.0, (label, change)
        assert by_label[label]["gain_db"] == pytest.approx(-change, abs=0.01)
    assert lufs(out / "input.wav") == pytest.approx(source_lufs, abs=0.05)  # matched to the input: unchanged
    for label in CHAINS:
        assert lufs(out / f"{label}.wav") == pytest.approx(source_lufs, abs=0.2), label


def test_the_latent_limiter_comes_back_lined_up_with_the_input(shootout):
    out, report, _ = shootout
    assert {s["label"]: s["latency_samples"] for s in report["sides"]}["D"] == 480  # the limiter is latent
    dry, _ = sf.read(out / "input.wav", always_2d=True)
    for label in CHAINS:
        wet, _ = sf.read(out / f"{label}.wav", always_2d=True)
        n = min(len(dry), len(wet))
        spectrum = np.fft.rfft(dry[:n, 0], 2 * n) * np.conj(np.fft.rfft(wet[:n, 0], 2 * n))
        correlation = np.fft.irfft(spectrum)
        lags = np.concatenate((np.arange(n), np.arange(-n, 0)))
        assert lags[int(np.argmax(correlation))] == 0, label
    # The same measure finds the limiter's latency where it is not trimmed: the test would see it.
    wet, _ = sf.read(out / "D.wav", always_2d=True)
    late = np.concatenate((np.zeros(480), wet[:-480, 0]))
    correlation = np.fft.irfft(np.fft.rfft(dry[:, 0], 2 * len(dry)) * np.conj(np.fft.rfft(late, 2 * len(dry))))
    assert int(np.argmax(correlation)) == 2 * len(dry) - 480  # a lag of -480: the wet side comes 480 samples late


def test_report_json_holds_what_independent_measurements_find(shootout):
    out, report, original = shootout
    assert json.loads((out / "report.json").read_text()) == report  # --json prints what the file holds
    assert report["format_version"] == 1 and report["reference"] == "input" and report["sample_rate"] == SR
    assert report["limited_by_true_peak"] is None and report["target_lufs"] == pytest.approx(lufs(original), abs=0.05)
    assert [s["label"] for s in report["sides"]] == ["input", *CHAINS]
    assert [s["chain"] for s in report["sides"][1:]] == list(CHAINS.values())
    for side in report["sides"]:
        audio, _ = sf.read(side["file"], always_2d=True)
        measured, matched = side["measured"], side["matched"]
        assert set(measured) == set(matched) == {"integrated_lufs", "short_term_max_lufs", "true_peak_dbtp",
                                                 "peak_dbfs", "crest_factor_db", "loudness_range_lu", "seconds"}
        assert matched["integrated_lufs"] == pytest.approx(lufs(Path(side["file"])), abs=0.01)
        assert measured["integrated_lufs"] == pytest.approx(matched["integrated_lufs"] - side["gain_db"], abs=0.01)
        crest = 20 * math.log10(np.max(np.abs(audio)) / math.sqrt(np.mean(np.square(audio))))
        assert measured["crest_factor_db"] == pytest.approx(crest, abs=0.01)
        assert matched["true_peak_dbtp"] == pytest.approx(reference_true_peak_db(audio), abs=0.1)
        assert measured["seconds"] == pytest.approx(len(audio) / SR)
        # Short-term loudness is a 3 s window: pyloudnorm reads one gating block of 3 s as exactly that.
        meter = pyloudnorm.Meter(SR, block_size=3.0)
        ends = range(3 * SR, len(audio) + 1, SR // 10)
        windows = [meter.integrated_loudness(audio[end - 3 * SR : end]) for end in ends]
        assert matched["short_term_max_lufs"] == pytest.approx(max(windows), abs=0.1)


def test_report_html_draws_one_spectrum_per_candidate(shootout):
    out, _, _ = shootout
    page = (out / "report.html").read_text()
    assert page.count('<svg class="spectrum"') == len(CHAINS)
    for label, chain in CHAINS.items():
        assert f"Spectrum of {label} against input" in page and f"<code>{chain}</code>" in page
    assert "Integrated" in page and "Crest factor" in page and "Loudness range" in page


def test_matching_to_a_loud_candidate_matches_everyone_lower_so_nothing_clips(tmp_path, wav_file):
    source = wav_file(program_signal(2, 6.0), "in.wav")
    run = rackhost("compare", str(source), "-o", str(tmp_path / "out"), "--chain", CHAINS["A"],
                   "--chain", CHAINS["B"], "--label", "loud", "--label", "squashed", "--match-to", "loud", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    loud = report["sides"][1]
    assert loud["measured"]["true_peak_dbtp"] > 0.5  # +6 dB of gain: over full scale as rendered
    assert report["limited_by_true_peak"] == "loud" and loud["gain_db"] < -0.5
    assert any("loud's true peak would pass 0 dBTP" in note for note in report["notes"])
    levels = []
    for name in ("input", "loud", "squashed"):
        audio, _ = sf.read(tmp_path / "out" / f"{name}.wav", always_2d=True)
        assert np.max(np.abs(audio)) <= 1.0, name  # no sample clips
        assert measure_side(audio.T, SR).true_peak_dbtp <= 1e-6, name  # BS.1770's 4x true peak at most 0 dBTP
        # The continuous peak, 16x oversampled, may lie a little above what the standard's 4x meter reads.
        assert reference_true_peak_db(audio) <= 0.1, name
        levels.append(lufs(tmp_path / "out" / f"{name}.wav"))
    assert max(levels) - min(levels) < 0.2
    assert report["target_lufs"] < loud["measured"]["integrated_lufs"] - 0.5


def test_a_preset_is_a_candidate_and_a_mono_input_is_matched_as_dual_mono(tmp_path, wav_file):
    source = wav_file(program_signal(1, 4.0), "mono.wav")
    run = rackhost("compare", str(source), "-o", str(tmp_path / "out"), "--preset", "mastering/streaming",
                   "--chain", "ZamCompX2(threshold_db=-24, ratio=4)", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [s["chain"] for s in report["sides"]] == ["the input, unprocessed", "preset mastering/streaming",
                                                      "ZamCompX2(threshold_db=-24, ratio=4)"]
    assert report["channels"] == 2 and any("input is mono" in note for note in report["notes"])
    assert report["sides"][1]["measured"]["integrated_lufs"] == pytest.approx(-14.0, abs=0.5)  # the preset's target
    levels = [lufs(tmp_path / "out" / f"{name}.wav") for name in ("input", "A", "B")]
    assert max(levels) - min(levels) < 0.2
    assert sf.info(tmp_path / "out" / "input.wav").channels == 2


@pytest.mark.parametrize("args, message", [
    (["--chain", "Gain(gain_db=6)"], "at least two candidates, got 1"),
    ([], "at least two candidates, got 0"),
    (["--chain", "Gain", "--preset", "mastering/nosuch"], "no such preset"),
    (["--chain", "Gain", "--chain", "Gain", "-o", "FILE"], "is a file, not a folder"),
    (["--chain", "Gain", "--chain", "Gain", "--label", "x"], "1 --label for 2 candidates"),
    (["--chain", "Gain", "--chain", "Gain", "--label", "x", "--label", "X"], "'X' is given twice"),
    (["--chain", "Gain", "--chain", "Gain", "--label", "input", "--label", "b"], "cannot name a file"),
    (["--chain", "Gain", "--chain", "Gain", "--label", "a/b", "--label", "c"], "cannot name a file"),
    (["--chain", "Gain", "--chain", "Gain", "--match-to", "Z"], "--match-to 'Z' is not a side"),
    (["--chain", "Gain", "--chain", "Gain", "--ceiling", "3"], "--ceiling 3 is outside -20..0 dBTP"),
    (["--chain", "Gain", "--chain", "Gain(gain_db=-120)"], "B is silent"),
])
def test_mistakes_are_one_line_errors(tmp_path, wav_file, args, message):
    wav_file(program_signal(2, 1.0), "in.wav")
    (tmp_path / "FILE").write_text("not a folder")
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "out")]
    before = listing(tmp_path)
    run = rackhost("compare", str(tmp_path / "in.wav"), *[str(tmp_path / a) if a == "FILE" else a for a in args])
    assert_one_error_line(run, message)
    assert listing(tmp_path) == before and not (tmp_path / "out").exists()  # nothing written, not even the folder


# --- the functions under the command ---------------------------------------------------------------------------


def _noise(seconds: float, level_db: float, seed: int, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, int(seconds * SR))) * 10 ** (level_db / 20)).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(gains=st.lists(st.floats(-40.0, 12.0, allow_nan=False, allow_subnormal=False), min_size=2, max_size=4),
       seconds=st.floats(0.5, 3.0, allow_nan=False, allow_subnormal=False),
       reference=st.integers(0, 3), ceiling=st.sampled_from([0.0, -1.0]))
def test_matching_lands_every_side_on_one_loudness_without_passing_the_ceiling(gains, seconds, reference, ceiling):
    sides = {f"s{i}": _noise(seconds + 0.1 * i, -20 + gain, seed=i) for i, gain in enumerate(gains)}
    reference_label = f"s{reference % len(gains)}"
    plan, matched = match_loudness(sides, SR, reference_label, ceiling)
    meter = pyloudnorm.Meter(SR)
    for audio in matched.values():
        assert meter.integrated_loudness(audio.T.astype(np.float64)) == pytest.approx(plan.target_lufs, abs=0.01)
        assert measure_side(audio, SR).true_peak_dbtp <= ceiling + 0.01
    reference_lufs = meter.integrated_loudness(sides[reference_label].T.astype(np.float64))
    if plan.limited_by is None:
        assert plan.target_lufs == pytest.approx(reference_lufs, abs=1e-6)
    else:  # the side that set the level now peaks right at the ceiling
        assert plan.target_lufs < reference_lufs
        assert measure_side(matched[plan.limited_by], SR).true_peak_dbtp == pytest.approx(ceiling, abs=0.01)


def test_a_silent_or_too_short_side_cannot_be_matched():
    with pytest.raises(MatchError, match="B is silent"):
        plan_match({"A": Level(-20.0, -3.0), "B": Level(-math.inf, -math.inf)}, "A")
    with pytest.raises(MatchError, match="B is shorter than 0.4 s"):
        plan_match({"A": Level(-20.0, -3.0), "B": Level(None, -3.0)}, "A")


def test_loudness_range_reads_the_step_between_two_levels_and_nothing_for_a_steady_one():
    step = np.concatenate((_noise(10.0, -20, 1), _noise(10.0, -30, 2)), axis=1)
    assert measure_side(step, SR).loudness_range_lu == pytest.approx(10.0, abs=0.5)
    assert measure_side(_noise(10.0, -20, 3), SR).loudness_range_lu == pytest.approx(0.0, abs=0.3)
    assert measure_side(_noise(2.0, -20, 3), SR).loudness_range_lu is None  # shorter than one 3 s window


def test_spectrum_is_welchs_average_scaled_so_a_full_scale_sine_reads_0_db():
    from scipy.signal import welch

    noise = _noise(2.0, -20, 4)
    ours = average_spectrum(noise, SR, fft_size=4096)
    freqs, power = welch(noise.astype(np.float64), SR, window="hann", nperseg=4096, noverlap=2048, detrend=False,
                         scaling="spectrum", axis=1)
    expected = 10 * np.log10(2 * np.mean(power, axis=0))  # scipy reads a sine's RMS**2; ours its peak**2
    np.testing.assert_allclose(ours.frequencies_hz, freqs)
    np.testing.assert_allclose(ours.level_db[1:-1], expected[1:-1], atol=1e-6)

    t = np.arange(SR) / SR
    bin_hz = SR / 4096
    sine = 0.5 * np.sin(2 * np.pi * 100 * bin_hz * t)  # on a bin: no scalloping
    spectrum = average_spectrum(np.vstack([sine, sine]), SR, fft_size=4096)
    assert spectrum.level_db[100] == pytest.approx(20 * math.log10(0.5), abs=0.01)


def test_log_bands_of_white_noise_are_flat_and_cover_20_hz_to_nyquist():
    bands = log_bands(average_spectrum(_noise(4.0, -20, 5), SR), bands=60)
    assert bands.frequencies_hz[0] > 20 and bands.frequencies_hz[-1] < SR / 2 and len(bands.level_db) == 60
    assert np.ptp(bands.level_db[10:]) < 3.0  # white: the same power per bin everywhere
    assert np.all(np.isfinite(bands.level_db))


def test_an_input_inside_the_output_folder_is_never_overwritten(tmp_path, wav_file):
    source = wav_file(program_signal(2, 1.0), "A.wav")
    before = source.read_bytes()
    run = rackhost("compare", str(source), "-o", str(tmp_path), "--chain", "Gain", "--chain", "Gain(gain_db=3)")
    assert_one_error_line(run, "is the input")
    assert source.read_bytes() == before


def test_a_shoot_out_in_memory_matches_the_sides_without_writing_anything():
    """What the window will use: the sides matched in memory, ready to play; files only when asked."""
    from rackhost.chain import ArraySource, Session
    from rackhost.chain.shootout import Candidate, shoot_out
    from rackhost.cli.chain_spec import parse_chain

    audio = program_signal(2, 3.0)
    candidates = []
    for label in ("A", "B"):
        session = Session(sample_rate=SR, block_size=256, track_bounce=True)
        session.add_track("in", ArraySource(audio, SR), parse_chain(CHAINS[label]))
        candidates.append(Candidate(label, CHAINS[label], session))
    shoot = shoot_out(audio, SR, candidates, tail=False)
    meter = pyloudnorm.Meter(SR)
    target = meter.integrated_loudness(audio.T.astype(np.float64))
    for side in shoot.sides:
        assert side.matched_audio.shape == audio.shape
        assert meter.integrated_loudness(side.matched_audio.T.astype(np.float64)) == pytest.approx(target, abs=0.2)
    assert [side["file"] for side in shoot.to_dict()["sides"]] == [None, None, None]
