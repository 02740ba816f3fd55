"""``rackhost render --automate`` end to end, in a subprocess: the README's fade, CSV files, VST3s, and every mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rackhost.chain.automation import Point, write_csv

SR = 48000


def rackhost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def steady(tmp_path: Path) -> Path:
    """3 s of a 0.5 sine, mono."""
    t = np.arange(3 * SR) / SR
    path = tmp_path / "in.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR, subtype="FLOAT")
    return path


def _level_db(audio: np.ndarray, at: float) -> float:
    """The sine's level around ``at`` seconds (a 20 ms window), in dB against 0.5 amplitude."""
    window = audio[int(at * SR) - 480: int(at * SR) + 480]
    return 20 * np.log10(np.max(np.abs(window)) / 0.5)


def test_the_readme_fade_takes_a_file_down_20_db_over_2_s(steady, tmp_path):
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--chain", "Gain", "--automate", "Gain.gain_db=0:0,2:-20",
                    "--bit-depth", "32", "--no-tail")
    assert done.returncode == 0, done.stderr
    audio, sr = sf.read(out, dtype="float32")
    assert sr == SR and audio.shape == (3 * SR,)
    assert _level_db(audio, 0.05) == pytest.approx(-0.5, abs=0.3)
    assert _level_db(audio, 1.0) == pytest.approx(-10.0, abs=0.3)
    assert _level_db(audio, 2.5) == pytest.approx(-20.0, abs=0.05)


def test_envelopes_from_a_csv_on_a_vst3_and_on_a_wet_dry_named_by_place(steady, tmp_path):
    """ZamComp's threshold from a CSV (a script wrote it), and the second of two Gains' _mix by its place."""
    write_csv([Point(0.0, 0.0, "step"), Point(1.0, -40.0)], tmp_path / "threshold.csv")
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--bit-depth", "32", "--no-tail", "--json",
                    "--chain", "ZamComp(ratio=20, attack_ms=1); Gain(gain_db=0); Gain(gain_db=-60)",
                    "--automate", f"ZamComp.threshold_db=@{tmp_path / 'threshold.csv'}",
                    "--automate", "3._mix=0:0:step,2:1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["frames"] == 3 * SR
    audio, _ = sf.read(out, dtype="float32")
    assert _level_db(audio, 0.5) == pytest.approx(0.0, abs=0.1)  # threshold 0 dB: nothing compressed yet
    assert _level_db(audio, 1.5) < -6.0  # -40 dB threshold at ratio 20 from 1 s on
    assert np.max(np.abs(audio[int(2.05 * SR):])) < 0.5 * 10 ** (-50 / 20)  # all wet through -60 dB after 2 s


@pytest.mark.parametrize("automate, message", [
    ("Gainn.gain_db=0:0", "--automate 'Gainn.gain_db=0:0': no slot named 'Gainn' in the chain; it holds 1: Gain"),
    ("Gain.gain=0:0", "plug-in 'Gain' has no parameter 'gain'; valid parameters: gain_db"),
    ("Gain.gain_db=0:0,2:-200", "envelope Gain.gain_db, point 2 (2 s, -200): value out of range [-120, 48] dB"),
    ("Gain.gain_db=2:0,1:-6", "times must rise"),
    ("Gain.gain_db=0:0,2", "cannot read point '2'"),
    ("Gain.gain_db", "is not SLOT.PARAM=TIME:VALUE"),
    ("2.gain_db=0:0", "no slot 2 in a chain of 1"),
    ("Gain.gain_db=@missing.csv", "cannot read envelope file 'missing.csv'"),
])
def test_a_bad_automate_exits_2_with_one_line_naming_it(steady, tmp_path, automate, message):
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--chain", "Gain", "--automate", automate)
    assert done.returncode == 2
    assert done.stderr.startswith("rackhost: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_automating_a_split_itself_is_refused_with_one_line_naming_the_path_to_use(steady, tmp_path):
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--chain", "Gain; [Compressor @ -6 | ]",
                    "--automate", "2.threshold_db=0:-20,1:-30")
    assert done.returncode == 2
    assert "'split' is a split (parallel branches), which has no parameters of its own" in done.stderr
    assert "automate a plug-in inside one of its branches (by its path, e.g. '0/1/0'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("slot", ["1/0/0", "Compressor"])
def test_a_plugin_inside_a_split_is_automated_by_its_path_or_its_name(steady, tmp_path, slot):
    """The path as `rackhost midi map` writes it (split slot/branch/slot, from 0), or a name found in the split."""
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--bit-depth", "32", "--no-tail",
                    "--chain", "Gain(gain_db=0); [Compressor(ratio=20, attack_ms=1) | @ -inf]",
                    "--automate", f"{slot}.threshold_db=0:0:step,1:-40")
    assert done.returncode == 0, done.stderr
    audio, _ = sf.read(out, dtype="float32")
    assert _level_db(audio, 0.5) == pytest.approx(0.0, abs=0.1)  # threshold 0 dB: nothing compressed yet
    assert _level_db(audio, 1.5) < -6.0  # -40 dB at ratio 20 from 1 s on, in the branch


@pytest.mark.parametrize("automate, message", [
    ("1/2/0.threshold_db=0:0", "slot path '1/2/0': split 'split' has no branch 2 (it has 2)"),
    ("1/0.threshold_db=0:0", "slot path '1/0': write (split slot/branch/)... slot, an odd count of numbers"),
    ("1/x/0.threshold_db=0:0", "slot path '1/x/0': write numbers from 0"),
    ("Gain.gain_db=0:0", ("'Gain' is in the chain's splits 2 times (paths 1/0/0, 1/1/0); name the slot by its "
                          "path instead, e.g. '1/0/0.gain_db'")),
])
def test_a_bad_path_into_a_split_exits_2_with_one_line_naming_it(steady, tmp_path, automate, message):
    out = tmp_path / "out.wav"
    done = rackhost("render", str(steady), "-o", str(out), "--chain", "Compressor; [Gain | Gain]",
                    "--automate", automate)
    assert done.returncode == 2
    assert done.stderr.startswith("rackhost: error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_automate_with_a_session_is_refused_and_the_session_plays_its_own_envelopes(steady, tmp_path):
    session = {"format_version": 5, "tracks": [{"name": "a", "source": str(steady),
                                                "automation": [{"control": "mute", "points": [[0.0, 0.0], [1.0, 1.0]]}]}]}
    (tmp_path / "s.json").write_text(json.dumps(session))
    done = rackhost("render", "--session", str(tmp_path / "s.json"), "-o", str(tmp_path / "x.wav"),
                    "--automate", "Gain.gain_db=0:0")
    assert done.returncode == 2 and "--automate is for INPUT with --chain" in done.stderr
    done = rackhost("render", "--session", str(tmp_path / "s.json"), "-o", str(tmp_path / "x.wav"), "--no-tail",
                    "--bit-depth", "32")
    assert done.returncode == 0, done.stderr
    audio, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    assert np.max(np.abs(audio[: SR - 1])) > 0.3 and np.all(audio[SR:] == 0.0)
