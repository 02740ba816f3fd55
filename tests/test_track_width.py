"""A track's width along its chain: a mono track widens at its first stereo-only plug-in, unless kept mono."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import dearpygui.dearpygui as dpg
import numpy as np
import pedalboard
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PROJECT_VST3_DIR, SR, program_signal
from gui_driver import built_window, click
from rackhost.chain import ArraySource, Session, render
from rackhost.presets import load_session, save_session

MVERB = str(PROJECT_VST3_DIR / "MVerb.vst3")
MONO_ONLY = {"ZamComp"}
STEREO_ONLY = {"ZamCompX2", "MVerb"}
AGNOSTIC = {"Gain", "Reverb"}  # built-ins: as wide as the audio reaching them


def _probed_mverb() -> pedalboard.Plugin:
    """MVerb as rackhost holds it: it processed 32 frames when its layouts were probed, then was reset.

    MVerb's reset() does not bring it back to a freshly loaded state (measured with pedalboard alone:
    2e-7 apart at 512-frame blocks, up to 0.03 at 500), so the reference goes through the same steps.
    """
    plugin = pedalboard.load_plugin(MVERB)
    plugin.process(np.zeros((2, 32), np.float32), SR, reset=True)
    plugin.reset()
    return plugin


def _correlation(audio: np.ndarray) -> float:
    return float(np.corrcoef(audio[0].astype(np.float64), audio[1].astype(np.float64))[0, 1])


@settings(max_examples=6, deadline=None)
@given(block=st.sampled_from([64, 128, 500, 512, 1024]), frames=st.integers(12000, 40000))
def test_a_mono_track_through_mverb_comes_out_stereo_as_pedalboard_makes_it(block, frames):
    mono = program_signal(1, 1.0)[:, :frames]
    session = Session(sample_rate=SR, block_size=block)
    track = session.add_track("vox", ArraySource(mono, SR))
    track.chain.add("MVerb")
    rendered = render(session, tail=False)
    assert track.width(SR) == 2 and track.width_label(SR) == "mono>stereo"
    assert any("MVerb is stereo-only" in n and "stereo from here on" in n for n in rendered.notes)
    assert _correlation(rendered.audio) < 0.99  # today: 1.000, the outputs folded back to mono
    # pedalboard cannot feed a stereo-only plug-in one channel (it raises "does not support 1-channel
    # output"): a mono signal reaches it as the same signal on both inputs. Centred, a balance is 0 dB.
    both = np.concatenate((mono, mono))
    expected = _probed_mverb().process(both, SR, buffer_size=block, reset=False)
    np.testing.assert_array_equal(rendered.audio, expected)


def test_keep_mono_folds_the_stereo_plugin_back_as_before():
    mono = program_signal(1, 0.5)
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("vox", ArraySource(mono, SR), keep_mono=True)
    track.chain.add("MVerb")
    rendered = render(session, tail=False)
    assert track.width(SR) == 1 and track.width_label(SR) == "mono"
    wide = _probed_mverb().process(np.concatenate((mono, mono)), SR, buffer_size=256, reset=False)
    folded = (wide[0:1] + wide[1:2]) * np.float32(0.5)
    centre = np.float32(math.cos(math.pi / 4))  # a mono track's pan law: -3 dB each side at centre
    np.testing.assert_array_equal(rendered.audio, np.concatenate((folded, folded)) * centre)


@pytest.mark.parametrize("pan", [-1.0, -0.5, 0.3, 1.0])
def test_the_pan_of_a_widened_track_is_a_balance_and_of_a_kept_mono_one_a_pan_law(pan):
    mono = program_signal(1, 0.3)
    angle = (pan + 1.0) * math.pi / 4
    for keep_mono in (False, True):
        session = Session(sample_rate=SR, block_size=128)
        track = session.add_track("vox", ArraySource(mono, SR), pan=pan, keep_mono=keep_mono)
        track.chain.add("ZamCompX2", threshold_db=-20)
        centred = Session(sample_rate=SR, block_size=128)
        centred.add_track("vox", ArraySource(mono, SR), keep_mono=keep_mono).chain.add(
            "ZamCompX2", threshold_db=-20)
        at_pan, at_centre = render(session, tail=False).audio, render(centred, tail=False).audio
        if keep_mono:  # sin/cos law against the centre's cos(pi/4) on both sides
            gains = (math.cos(angle) / math.cos(math.pi / 4), math.sin(angle) / math.sin(math.pi / 4))
        else:  # balance: the near side stays at 0 dB, the far one falls along the same curve
            gains = (min(1.0, math.cos(angle) * math.sqrt(2)), min(1.0, math.sin(angle) * math.sqrt(2)))
        for ch in range(2):
            np.testing.assert_allclose(at_pan[ch], at_centre[ch] * gains[ch], atol=2e-6)


def test_a_bypassed_widening_plugin_keeps_the_track_stereo_with_the_mono_signal_on_both_sides():
    mono = program_signal(1, 0.3)
    session = Session(sample_rate=SR, block_size=128)
    track = session.add_track("vox", ArraySource(mono, SR))
    track.chain.add("MVerb")
    track.chain.set_bypass(0)
    rendered = render(session, tail=False).audio
    assert track.width_label(SR) == "mono>stereo"
    np.testing.assert_array_equal(rendered, np.concatenate((mono, mono)))  # centred balance: 0 dB


def test_a_mono_only_plugin_after_the_widening_one_runs_dual_mono():
    session = Session(sample_rate=SR, block_size=128)
    track = session.add_track("vox", ArraySource(program_signal(1, 0.3), SR))
    track.chain.add("MVerb")
    comp = track.chain.add("ZamComp", threshold_db=-30)
    rendered = render(session, tail=False)
    assert comp.plugin.mode == "dual_mono" and len(comp.plugin.instances) == 2
    assert _correlation(rendered.audio) < 0.99


def _expected_width(source_channels: int, names: list[str], keep_mono: bool) -> int:
    width = source_channels
    for name in names:
        if name in STEREO_ONLY and width == 1 and not keep_mono:
            width = 2
    return width


@settings(max_examples=30, deadline=None)
@given(
    source_channels=st.sampled_from([1, 2]),
    names=st.lists(st.sampled_from(sorted(MONO_ONLY | STEREO_ONLY | AGNOSTIC)), max_size=4),
    keep_mono=st.booleans(),
    bypass=st.lists(st.booleans(), min_size=4, max_size=4),
    block=st.sampled_from([64, 256, 512]),
    pan=st.integers(-10, 10).map(lambda i: i / 10),  # not st.floats: plug-ins leave the FPU flushing subnormals
)
def test_any_chain_order_gives_the_expected_width_and_runs(source_channels, names, keep_mono, bypass, block, pan):
    session = Session(sample_rate=SR, block_size=block)
    track = session.add_track("t", ArraySource(program_signal(source_channels, 0.1, seed=4), SR), pan=pan,
                              keep_mono=keep_mono)
    for name, off in zip(names, bypass):
        track.chain.add(name).bypass = off
    expected = _expected_width(source_channels, names, keep_mono)
    rendered = render(session, tail=False)
    snap = session.snapshot()
    assert track.width(SR) == snap.tracks[0].width == expected
    label = "mono>stereo" if expected > source_channels else {1: "mono", 2: "stereo"}[source_channels]
    assert track.width_label(SR) == label
    assert rendered.audio.shape == (2, int(0.1 * SR)) and np.all(np.isfinite(rendered.audio))
    left, right = snap.gains[0, :, 0]
    angle = (pan + 1.0) * math.pi / 4
    if expected == 1:
        assert (left, right) == pytest.approx((math.cos(angle), math.sin(angle)), abs=1e-6)
    else:
        assert (left, right) == pytest.approx((min(1, math.cos(angle) * math.sqrt(2)),
                                               min(1, math.sin(angle) * math.sqrt(2))), abs=1e-6)


def test_keep_mono_is_saved_in_the_session_file_and_defaults_to_off(tmp_path, wav_file):
    session = Session(sample_rate=SR)
    session.add_track("vox", wav_file(program_signal(1, 0.2), "vox.wav"), keep_mono=True).chain.add("MVerb")
    session.add_track("gtr", wav_file(program_signal(1, 0.2, seed=2), "gtr.wav")).chain.add("MVerb")
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [t["keep_mono"] for t in doc["tracks"]] == [True, False]
    loaded = load_session(tmp_path / "s.json")
    assert [t.keep_mono for t in loaded.tracks] == [True, False]
    assert [t.width_label(SR) for t in loaded.tracks] == ["mono", "mono>stereo"]
    for track in doc["tracks"]:
        del track["keep_mono"]  # a file written before the key: tracks widen
    (tmp_path / "old.json").write_text(json.dumps(doc))
    assert [t.keep_mono for t in load_session(tmp_path / "old.json").tracks] == [False, False]
    doc["tracks"][0]["keep_mono"] = "yes"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(Exception, match=r"tracks\[0\]\.keep_mono.*expected true or false"):
        load_session(tmp_path / "bad.json")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, timeout=300)


def test_the_cli_widens_a_mono_input_and_keeps_it_mono_when_asked(tmp_path, wav_file):
    mono = wav_file(program_signal(1, 0.5), "vox.wav")
    written = {}
    for flag in ((), ("--keep-mono",)):
        out = tmp_path / f"out{len(flag)}.wav"
        run = _cli("render", str(mono), "-o", str(out), "--chain", "MVerb", "--no-tail", "--bit-depth", "32", *flag)
        assert run.returncode == 0, run.stderr
        written[flag], _ = sf.read(out, dtype="float32", always_2d=True)
        assert ("stereo from here on" in run.stdout) != bool(flag)
    assert written[()].shape[1] == 2 and np.corrcoef(written[()].T)[0, 1] < 0.99
    # Kept mono, a bounced file is written mono: MVerb's outputs summed back, at unity (no pan law).
    read = sf.read(mono, dtype="float32", always_2d=True)[0].T
    wide = _probed_mverb().process(np.concatenate((read, read)), SR, buffer_size=512, reset=False)
    assert written[("--keep-mono",)].shape[1] == 1
    np.testing.assert_allclose(written[("--keep-mono",)][:, 0], (wide[0] + wide[1]) * np.float32(0.5), atol=1e-6)
    run = _cli("render", "--session", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.wav"), "--keep-mono")
    assert run.returncode == 2 and "rackhost: error: --keep-mono is for one INPUT" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("name", ["ZamCompX2", "ZamComp", "ZamGateX2"])
def test_a_sidechain_switch_with_no_key_is_named_in_the_render_notes(name):
    audio = program_signal(1 if name == "ZamComp" else 2, 0.3)
    for switch in (1.0, 0.0):
        session = Session(sample_rate=SR, block_size=256)
        values = dict(threshold_db=-40, sidechain=switch) | ({"ratio": 10} if "Comp" in name else {})
        session.add_track("vox", ArraySource(audio, SR)).chain.add(name, **values)
        rendered = render(session, tail=False)
        unkeyed = [n for n in rendered.notes if "sidechain" in n]
        if switch:
            assert unkeyed == [f"track 'vox': {name} has its sidechain switch on but no key, so its detector hears "
                               f"silence (a compressor does not compress, a gate stays shut); key it (the key selector in "
                               f"its parameter panel, or session.edit.set_key) or set sidechain=0"]
            if name == "ZamCompX2":  # what the note is about: with the switch on, it does not touch the signal
                np.testing.assert_allclose(rendered.audio, audio, atol=1e-6)
        else:
            assert unkeyed == []
            assert np.abs(rendered.audio - audio).max() > 0.1  # the same settings compress or gate


def test_a_bypassed_slot_with_its_sidechain_on_says_nothing():
    session = Session(sample_rate=SR)
    session.add_track("vox", ArraySource(program_signal(2, 0.1), SR)).chain.add("ZamCompX2", sidechain=1).bypass = True
    assert not [n for n in session.snapshot().notes if "sidechain" in n]


def test_the_cli_prints_the_sidechain_note(tmp_path, wav_file):
    run = _cli("render", str(wav_file(program_signal(2, 0.3))), "-o", str(tmp_path / "o.wav"),
               "--chain", "ZamCompX2(sidechain=1)")
    assert run.returncode == 0, run.stderr
    assert "note: track 'in': ZamCompX2 has its sidechain switch on" in run.stdout


@pytest.fixture
def app(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("vox", wav_file(program_signal(1, 0.5), "vox.wav")).chain.add("MVerb")
    session.add_track("bass", wav_file(program_signal(1, 0.5, seed=3), "bass.wav")).chain.add("ZamComp")
    session.add_track("drums", wav_file(program_signal(2, 0.5, seed=4), "drums.wav")).chain.add("ZamCompX2")
    path = tmp_path / "song.json"
    save_session(session, path)
    with built_window(path) as rack:
        yield rack


def test_the_strip_shows_each_tracks_width_and_toggles_keep_mono_with_undo(app, tmp_path):
    assert [dpg.get_value(s.width) for s in app.strips] == ["mono>stereo", "mono", "stereo"]
    assert [dpg.get_item_configuration(s.keep_mono)["show"] for s in app.strips] == [True, True, False]
    click(app.strips[0].keep_mono, True)
    assert app.session.tracks[0].keep_mono
    assert dpg.get_value(app.strips[0].width) == "mono" and dpg.get_value(app.strips[0].keep_mono)
    save_session(app.session, tmp_path / "saved.json")
    assert load_session(tmp_path / "saved.json").tracks[0].keep_mono
    app.undo()
    assert not app.session.tracks[0].keep_mono and dpg.get_value(app.strips[0].width) == "mono>stereo"


def test_the_window_marks_a_slot_whose_sidechain_is_on_and_says_why(app):
    app.set_parameter(2, 0, "sidechain", 1.0)
    button = app.strips[2].slot_buttons[0]
    assert dpg.get_item_label(button).startswith("! ZamCompX2")
    tip, text = app.strips[2].slot_tips[0]
    assert dpg.get_item_configuration(tip)["show"]
    assert dpg.get_value(text).startswith("track 'drums': ZamCompX2 has its sidechain switch on")
    assert "track 'drums': ZamCompX2 has its sidechain switch on" in dpg.get_value(app.status)
    app.set_parameter(2, 0, "sidechain", 0.0)
    assert dpg.get_item_label(button) == "ZamCompX2" and not dpg.get_item_configuration(tip)["show"]
