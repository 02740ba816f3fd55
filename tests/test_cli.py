"""The rackhost command end to end, in a subprocess: renders, listings, and every error case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, program_signal


def rackhost(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture
def input_wav(wav_file):
    return wav_file(program_signal(2, 1.0), "in.wav")


def test_render_through_an_inline_chain(input_wav, tmp_path):
    out = tmp_path / "out.wav"
    chain = "HighpassFilter(cutoff_frequency_hz=80); Compressor(threshold_db=-18, ratio=3); ZamCompX2(threshold_db=-20)"
    run = rackhost("render", str(input_wav), "-o", str(out), "--chain", chain, "--block-size", "256")
    assert run.returncode == 0, run.stderr
    assert "integrated" in run.stdout and "true peak" in run.stdout and "LUFS" in run.stdout
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (SR, 2, "PCM_24")
    assert SR <= info.frames < SR + SR // 10  # the filter's short ring-out is kept, nothing more


def test_render_report_as_json_and_mono_adaptation_note(wav_file, tmp_path):
    mono = wav_file(program_signal(1, 1.0), "mono.wav")
    run = rackhost("render", str(mono), "-o", str(tmp_path / "o.flac"), "--chain", "ZamCompX2", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["sample_rate"] == SR and report["integrated_lufs"] < 0
    assert any("stereo-only" in n for n in report["notes"])


def test_render_a_session_file(wav_file, tmp_path):
    wav_file(program_signal(2, 0.5), "a.wav")
    wav_file(program_signal(1, 0.5, seed=3), "b.wav")
    session = {
        "format_version": 1, "sample_rate": SR, "block_size": 128,
        "tracks": [
            {"name": "a", "source": "a.wav", "chain": [{"plugin": "ZamCompX2", "parameters": {"threshold_db": -20}}]},
            {"name": "b", "source": "b.wav", "pan": -0.5, "chain": [{"plugin": "Reverb", "mix": 0.5}]},
        ],
        "master": {"gain_db": -1.0, "chain": [{"plugin": "ZaMaximX2"}]},
    }
    path = tmp_path / "song.json"
    path.write_text(json.dumps(session))
    run = rackhost("render", "--session", str(path), "-o", str(tmp_path / "mix.wav"))
    assert run.returncode == 0, run.stderr
    assert "latency compensated: 480 samples" in run.stdout
    assert sf.info(tmp_path / "mix.wav").frames >= SR // 2


def test_plugins_lists_builtins_and_vst3s_with_parameters_as_json():
    run = rackhost("plugins", "Compressor", "ZamComp", "ZamCompX2", "--json")
    assert run.returncode == 0, run.stderr
    listing = {p["name"]: p for p in json.loads(run.stdout)}
    assert listing["Compressor"]["format"] == "builtin"
    assert listing["ZamComp"]["channels"] == "mono"
    assert listing["ZamCompX2"]["channels"] == "stereo"
    params = {p["name"]: p for p in listing["ZamCompX2"]["parameters"]}
    assert params["threshold_db"]["minimum"] == -80 and params["threshold_db"]["unit"] == "dB"
    assert params["gain_reduction_db"]["role"] == "output"


def test_plugins_names_only_lists_every_zam_vst3_fast():
    run = rackhost("plugins", "--names-only", "--json")
    names = {p["name"] for p in json.loads(run.stdout)}
    assert {"Reverb", "ZamCompX2", "ZaMaximX2", "ZamVerb", "MVerb"} <= names


ERRORS = [
    (["--chain", "NoSuchPlugin"], "unknown plug-in 'NoSuchPlugin'"),
    (["--chain", "ZamCompX2(thresh=-20)"], "valid parameters: attack_ms"),
    (["--chain", "ZamCompX2(threshold_db=20)"], "out of range in [-80, 0] dB"),
    (["--chain", "Compressor(ratio=)"], "cannot read the values"),
    (["--chain", "Reverb(_mix=2)"], "wet/dry mix"),
    (["--chain", "Compressor,Gain(gain_db=-3)"], "slots are separated by ';', not ','"),
]


@pytest.mark.parametrize("extra, message", ERRORS)
def test_chain_errors_exit_2_with_one_line_and_leave_no_file(input_wav, tmp_path, extra, message):
    out = tmp_path / "out.wav"
    run = rackhost("render", str(input_wav), "-o", str(out), *extra)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("rackhost: error:")]
    assert len(errors) == 1 and message in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_missing_unreadable_and_unsupported_inputs(tmp_path, input_wav):
    (tmp_path / "notes.wav").write_text("this is not audio")
    cases = [
        ([str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o.wav")], "does not exist"),
        ([str(tmp_path / "notes.wav"), "-o", str(tmp_path / "o.wav")], "cannot read"),
        ([str(input_wav), "-o", str(tmp_path / "o.mp3")], "unsupported output format '.mp3'"),
        ([str(input_wav), "-o", str(tmp_path / "no" / "such" / "o.wav")], "output folder"),
        (["-o", str(tmp_path / "o.wav")], "give an INPUT file"),
    ]
    for args, message in cases:
        run = rackhost("render", *args)
        assert run.returncode == 2, (args, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "o.wav").exists()


def test_a_failed_render_leaves_an_existing_output_untouched(input_wav, tmp_path):
    out = tmp_path / "keep.wav"
    sf.write(out, np.zeros((10, 2)), SR)
    before = out.read_bytes()
    run = rackhost("render", str(input_wav), "-o", str(out), "--chain", "Nope")
    assert run.returncode == 2
    assert out.read_bytes() == before


def test_bad_session_file_names_the_place(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format_version": 1, "tracks": [{"name": "x", "chain": [{"plugin": 3}]}]}))
    run = rackhost("render", "--session", str(path), "-o", str(tmp_path / "o.wav"))
    assert run.returncode == 2
    assert "tracks[0].chain[0].plugin" in run.stderr


def test_rendering_a_session_with_a_missing_plugin_warns_and_renders(wav_file, tmp_path):
    wav_file(program_signal(2, 0.5), "a.wav")
    doc = {"format_version": 2, "tracks": [{"name": "a", "source": "a.wav", "chain": [
        {"plugin": {"format": "vst3", "name": "ZamNotThere"}}, {"plugin": {"name": "Gain"}}]}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    run = rackhost("render", "--session", str(path), "-o", str(tmp_path / "o.wav"))
    assert run.returncode == 0, run.stderr
    assert "warning: tracks[0].chain[0]: ZamNotThere is not installed, so its slot is bypassed" in run.stdout
    assert "zam-plugins" in run.stdout


def test_a_render_through_dpf_plugins_leaves_no_plugin_chatter_on_stderr(input_wav, tmp_path):
    # Dual mono copies the first instance's state after a flush; left prepared for a 32-frame
    # block, the DPF plug-in was prepared again for the render's blocks while active and printed
    # "assertion failure: ! fIsActive" at every render. And every DPF plug-in printed two
    # "DPF warning" lines as it was freed at exit.
    chain = "ZamEQ2; ZamCompX2; ZaMaximX2"
    run = rackhost("render", str(input_wav), "-o", str(tmp_path / "o.wav"), "--chain", chain, "--block-size", "512")
    assert run.returncode == 0, run.stderr
    assert "dual mono" in run.stdout + run.stderr  # the notes still reach the user
    assert "fIsActive" not in run.stderr and "assertion failure" not in run.stderr
    assert "DPF warning" not in run.stderr


def test_output_piped_into_a_reader_that_stops_early_ends_without_a_traceback():
    """`rackhost plugins | head -1`: the reader closes the pipe; rackhost stops quietly."""
    child = subprocess.Popen([sys.executable, "-m", "rackhost.cli", "plugins"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.readline()
    child.stdout.close()  # what head does after its first line
    stderr = child.stderr.read().decode()
    child.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_python_dash_m_rackhost_is_the_rackhost_command():
    result = subprocess.run([sys.executable, "-m", "rackhost", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("render", "presets", "scan", "plugins", "devices", "live", "midi", "gui", "demo", "takes"):
        assert command in result.stdout
