"""Bouncing one file through a chain: the file comes back as its chain makes it, at unity.

``rackhost render FILE --chain ...`` is a track bounce (``Session.track_bounce``):
a mono file through mono-capable plug-ins stays a mono file with pedalboard's
own samples, and one widened by a stereo-only plug-in comes out stereo at 0 dB
(a balance at centre), never 3 dB down as a centred mono track on a stereo master.
Every expected value here comes from pedalboard called directly and numpy.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pedalboard
import pyloudnorm
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import SR, VST3_DIR, program_signal
from rackhost.chain import ArraySource, Session, render
from rackhost.errors import SessionError, TrackBounceError
from rackhost.presets import load_session, save_session
from rackhost.presets.preset import Preset, SlotState
from rackhost.presets.preset_file import write_preset

MONO_ONLY = {"ZamComp"}  # real VST3s (Debian's zam-plugins)
STEREO_ONLY = {"ZamCompX2"}
SETTINGS = {
    "Compressor": {"threshold_db": -24.0, "ratio": 4.0},
    "Gain": {"gain_db": -3.0},
    "HighpassFilter": {"cutoff_frequency_hz": 120.0},
    "Reverb": {"room_size": 0.5, "wet_level": 0.3},
    "ZamComp": {"threshold_db": -30.0, "ratio": 4.0},
    "ZamCompX2": {"threshold_db": -30.0, "ratio": 4.0},
}


def _fresh(name: str) -> pedalboard.Plugin:
    """The plug-in as pedalboard itself makes it, set as ``SETTINGS`` says."""
    if name in MONO_ONLY | STEREO_ONLY:
        plugin = pedalboard.load_plugin(str(VST3_DIR / f"{name}.vst3"))
        for key, value in SETTINGS[name].items():
            setattr(plugin, key, value)
        # DPF takes a parameter at its next process() call: a host runs silence through before the audio.
        plugin.process(np.zeros((2 if name in STEREO_ONLY else 1, 32), np.float32), SR, reset=False)
        plugin.reset()
        return plugin
    return getattr(pedalboard, name)(**SETTINGS[name])


def _pedalboard_bounce(audio: np.ndarray, names: list[str], block: int, keep_mono: bool = False) -> np.ndarray:
    """What a DAW makes of a file through ``names``, plug-in by plug-in in pedalboard: a mono signal reaches a
    stereo-only plug-in on both its inputs and is stereo from there (or, kept mono, its outputs are averaged);
    a mono-only plug-in on stereo runs as two instances, one a channel.

    pedalboard guesses which axis holds the channels, and guesses wrong for a file of a frame or two (a (2, 1)
    array is one channel of two frames to it); the plug-ins here are causal, so silence after the end changes
    nothing before it, and the reference runs on the file padded to a few frames, then cut back."""
    frames = audio.shape[1]
    x = np.pad(audio, ((0, 0), (0, max(0, 8 - frames))))
    for name in names:
        if name in STEREO_ONLY and x.shape[0] == 1:
            wide = _fresh(name).process(np.concatenate((x, x)), SR, buffer_size=block, reset=False)
            x = (wide[0:1] + wide[1:2]) * np.float32(0.5) if keep_mono else wide
        elif name in MONO_ONLY and x.shape[0] == 2:
            x = np.concatenate([_fresh(name).process(x[c : c + 1], SR, buffer_size=block, reset=False)
                                for c in (0, 1)])
        else:
            x = _fresh(name).process(x, SR, buffer_size=block, reset=False)
    return x[:, :frames]


def _bounce(audio: np.ndarray, names: list[str], block: int, **track: object) -> Session:
    session = Session(sample_rate=SR, block_size=block, track_bounce=True)
    strip = session.add_track("vox", ArraySource(audio, SR), **track)
    for name in names:
        strip.chain.add(name, **SETTINGS[name])
    return session


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    block=st.sampled_from([64, 100, 256, 512, 1024]),
    blocks=st.integers(0, 40),
    residue=st.sampled_from([0, 1, 2, 37, -1]),  # exact multiples of the block size and their neighbours
    names=st.lists(st.sampled_from(sorted(SETTINGS)), max_size=4),
    channels=st.sampled_from([1, 2]),
    keep_mono=st.booleans(),
)
@example(block=64, blocks=0, residue=1, names=["ZamCompX2"], channels=1, keep_mono=False)  # a 1-frame file
def test_a_bounced_file_is_what_pedalboard_makes_of_it_at_unity(block, blocks, residue, names, channels, keep_mono):
    frames = max(1, blocks * block + residue % block)
    audio = program_signal(channels, frames / SR + 0.01, seed=5)[:, :frames]
    rendered = render(_bounce(audio, names, block, keep_mono=keep_mono), tail=False)
    expected = _pedalboard_bounce(audio, names, block, keep_mono)
    widened = channels == 1 and not keep_mono and STEREO_ONLY & set(names)
    assert rendered.audio.shape == (2 if channels == 2 or widened else 1, frames)
    assert expected.shape == rendered.audio.shape
    np.testing.assert_array_equal(rendered.audio, expected)


@settings(max_examples=25, deadline=None)
@given(
    gain_db=st.integers(-24, 6),
    pan=st.integers(-10, 10).map(lambda i: i / 10),  # not st.floats: plug-ins leave the FPU flushing subnormals
    names=st.sampled_from([["Compressor"], ["ZamComp"], ["ZamCompX2"], ["Compressor", "ZamCompX2"]]),
)
def test_a_bounced_file_takes_its_fader_and_its_pan_only_as_a_balance_once_stereo(gain_db, pan, names):
    mono = program_signal(1, 0.25, seed=6)
    session = _bounce(mono, names, 256, gain_db=float(gain_db), pan=pan)
    rendered = render(session, tail=False)
    dry = _pedalboard_bounce(mono, names, 256)
    gain = 10.0 ** (gain_db / 20.0)
    if dry.shape[0] == 1:  # no pan law and no pan: nothing to pan it on
        expected = dry * np.float32(gain)
        assert any("pan" in n and "no effect on a bounced mono file" in n for n in rendered.notes) == (pan != 0)
    else:  # a balance: the near side at the fader, the far one down the constant-power curve
        angle = (pan + 1.0) * math.pi / 4.0
        sides = [min(1.0, math.cos(angle) * math.sqrt(2.0)), min(1.0, math.sin(angle) * math.sqrt(2.0))]
        expected = dry * np.array([[s * gain] for s in sides], np.float32)
        assert not [n for n in rendered.notes if "no effect" in n]
    assert rendered.audio.shape == expected.shape
    np.testing.assert_allclose(rendered.audio, expected, rtol=1e-6, atol=1e-9)


def test_the_same_track_in_a_mix_is_still_a_mono_track_on_a_stereo_master():
    """A bounce is a property of the render: without it, the centred mono track is panned (-3 dB a side)."""
    mono = program_signal(1, 0.2)
    bounced = render(_bounce(mono, ["Compressor"], 512), tail=False).audio
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("vox", ArraySource(mono, SR)).chain.add("Compressor", **SETTINGS["Compressor"])
    mixed = render(session, tail=False).audio
    np.testing.assert_array_equal(bounced, _pedalboard_bounce(mono, ["Compressor"], 512))
    assert mixed.shape == (2, mono.shape[1])
    np.testing.assert_allclose(mixed, np.concatenate((bounced, bounced)) * np.float32(math.cos(math.pi / 4)),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("block", [128, 512])
def test_a_bounced_mono_reverb_rings_out_in_mono_at_a_block_multiple(block):
    frames = (SR // block) * block  # a whole number of blocks: the length where tails used to be cut
    mono = program_signal(1, 1.0)[:, :frames]
    rendered = render(_bounce(mono, ["Reverb"], block), max_tail_seconds=10.0)
    assert rendered.audio.shape[0] == 1 and rendered.tail_frames > SR // 2
    padded = np.concatenate((mono, np.zeros((1, 10 * SR), np.float32)), axis=1)
    expected = _fresh("Reverb").process(padded, SR, buffer_size=block, reset=False)
    end = rendered.audio.shape[1]
    np.testing.assert_array_equal(rendered.audio, expected[:, :end])
    assert np.max(np.abs(expected[:, end:])) < 10 ** (-90 / 20)  # it stopped where the reverb went quiet


@pytest.mark.parametrize("master, width", [(["Gain"], 1), (["ZamComp"], 1), (["ZamCompX2"], 2)])
def test_the_master_chain_of_a_bounce_runs_at_the_files_width(master, width):
    mono = program_signal(1, 0.3, seed=8)
    session = _bounce(mono, ["Compressor"], 256)
    for name in master:
        session.master.chain.add(name, **SETTINGS[name])
    rendered = render(session, tail=False)
    expected = _pedalboard_bounce(mono, ["Compressor", *master], 256)
    assert rendered.audio.shape[0] == width == expected.shape[0]
    np.testing.assert_array_equal(rendered.audio, expected)
    assert not [n for n in rendered.notes if "dual mono" in n]  # the notes are those of the mono master


@pytest.mark.parametrize("tracks", [0, 2, 3])
def test_a_bounce_of_a_session_without_exactly_one_track_is_refused(tracks):
    session = Session(sample_rate=SR, track_bounce=True)
    for i in range(tracks):
        session.add_track(f"t{i}", ArraySource(program_signal(1, 0.1, seed=i), SR))
    with pytest.raises(TrackBounceError, match=rf"this session has {tracks} tracks; render it as a mix") as err:
        render(session)
    assert isinstance(err.value, SessionError) and err.value.tracks == tracks
    session.track_bounce = False
    if tracks:
        assert render(session, tail=False).audio.shape[0] == 2  # as a mix it renders


def test_a_bounce_is_not_saved_in_a_session_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, track_bounce=True)
    session.add_track("vox", wav_file(program_signal(1, 0.1), "vox.wav"))
    save_session(session, tmp_path / "s.json")
    assert "track_bounce" not in (tmp_path / "s.json").read_text()
    assert load_session(tmp_path / "s.json").track_bounce is False


# -- the command ------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, timeout=300)


def _read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0].T


@pytest.mark.parametrize("chain, width", [
    ("Compressor(threshold_db=-24, ratio=4); Gain(gain_db=-3)", 1),
    ("ZamComp(threshold_db=-30, ratio=4)", 1),
    ("ZamComp(threshold_db=-30, ratio=4); ZamCompX2(threshold_db=-30, ratio=4)", 2),
])
def test_the_cli_bounces_a_mono_file_as_pedalboard_processes_it(tmp_path, wav_file, chain, width):
    vocal = wav_file(program_signal(1, 0.5, seed=9), "vocal_mono.wav")
    out = tmp_path / "out.wav"
    run = _cli("render", str(vocal), "-o", str(out), "--chain", chain, "--bit-depth", "32", "--no-tail")
    assert run.returncode == 0, run.stderr
    assert f"32-bit {'mono' if width == 1 else 'stereo'})" in run.stdout
    names = [item.split("(")[0].strip() for item in chain.split(";")]
    expected = _pedalboard_bounce(_read(vocal), names, 512)
    got = _read(out)
    assert got.shape == expected.shape and got.shape[0] == width
    np.testing.assert_array_equal(got, expected)


def test_the_cli_writes_a_mono_bounce_at_24_bits_as_the_input_was(tmp_path, wav_file):
    vocal = wav_file(program_signal(1, 0.5, seed=9), "vocal_mono.wav")
    out = tmp_path / "out.wav"
    run = _cli("render", str(vocal), "-o", str(out), "--chain", "Gain(gain_db=0)", "--json")
    assert run.returncode == 0, run.stderr
    assert sf.info(out).channels == 1
    np.testing.assert_array_equal(_read(out), _read(vocal))  # unity: the same 24-bit samples
    report = json.loads(run.stdout)
    assert report["channels"] == 1
    # Measured as the mono file it is (pyloudnorm on the same samples), not as a track 3 dB down on a master.
    meter = pyloudnorm.Meter(SR)
    assert report["integrated_lufs"] == pytest.approx(meter.integrated_loudness(_read(vocal).T.astype(np.float64)),
                                                      abs=0.01)


def _track_preset(path: Path, pan: float, gain_db: float) -> Path:
    slot = SlotState({"format": "builtin", "name": "Compressor"}, {"threshold_db": -24.0, "ratio": 4.0})
    write_preset(Preset("centre-left", "tracking", "track", [slot], gain_db=gain_db, pan=pan), path)
    return path


def test_a_track_presets_pan_on_a_bounced_mono_file_is_named_as_without_effect(tmp_path, wav_file):
    vocal = wav_file(program_signal(1, 0.5, seed=9), "vocal_mono.wav")
    preset = _track_preset(tmp_path / "vox.json", pan=-0.4, gain_db=-6.0)
    out = tmp_path / "out.wav"
    run = _cli("render", str(vocal), "-o", str(out), "--preset", str(preset), "--bit-depth", "32", "--no-tail")
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stdout.splitlines() if "no effect" in line]
    assert notes == ["note: track 'vocal_mono': pan -0.4 has no effect on a bounced mono file (there is no stereo "
                     "master to pan it on); it works as a balance once a stereo-only plug-in in the track's chain "
                     "widens the file"]
    expected = pedalboard.Compressor(threshold_db=-24, ratio=4).process(_read(vocal), SR, buffer_size=512)
    np.testing.assert_allclose(_read(out), expected * np.float32(10 ** (-6 / 20)), rtol=1e-6, atol=1e-9)
    # Widened by the chain, the same preset's pan is a balance: the right side falls, the left stays.
    run = _cli("render", str(vocal), "-o", str(out), "--preset", str(preset), "--chain", "ZamCompX2",
               "--bit-depth", "32", "--no-tail")
    assert run.returncode == 0, run.stderr
    assert "no effect" not in run.stdout
    wide = _read(out)
    angle = (-0.4 + 1.0) * math.pi / 4
    assert wide.shape[0] == 2
    np.testing.assert_allclose(np.abs(wide[1]).max() / np.abs(wide[0]).max(), math.sin(angle) * math.sqrt(2),
                               rtol=1e-4)


def test_a_mono_file_mastered_kept_mono_lands_on_the_target_as_a_mono_file(tmp_path, wav_file):
    vocal = wav_file(program_signal(1, 6.0, seed=9) * 0.3, "vocal_mono.wav")
    out = tmp_path / "out.wav"
    run = _cli("render", str(vocal), "-o", str(out), "--preset", "mastering/podcast", "--keep-mono",
               "--bit-depth", "32")
    assert run.returncode == 0, run.stdout + run.stderr
    got = _read(out)
    assert got.shape[0] == 1  # its ZamCompX2 folded back: the podcast voice stays a mono file
    assert pyloudnorm.Meter(SR).integrated_loudness(got.T.astype(np.float64)) == pytest.approx(-16.0, abs=0.5)
    assert np.max(np.abs(got)) <= 10 ** (-1 / 20)


def test_the_cli_refuses_nothing_new_for_a_session_render(tmp_path, wav_file):
    """A session file is a mix, never a bounce: its mono track is still panned onto the stereo master."""
    session = Session(sample_rate=SR)
    session.add_track("vox", wav_file(program_signal(1, 0.2), "vox.wav")).chain.add("Gain", gain_db=0.0)
    save_session(session, tmp_path / "s.json")
    out = tmp_path / "mix.wav"
    run = _cli("render", "--session", str(tmp_path / "s.json"), "-o", str(out), "--bit-depth", "32", "--no-tail")
    assert run.returncode == 0, run.stderr
    mixed, vox = _read(out), _read(tmp_path / "vox.wav")
    assert mixed.shape[0] == 2
    np.testing.assert_allclose(mixed, np.concatenate((vox, vox)) * np.float32(math.cos(math.pi / 4)), atol=1e-7)
