"""Split slots (parallel branches inside a chain): alignment, summing, widths, --chain syntax, files and undo,
with real plug-ins (pedalboard built-ins, Debian's zam-plugins)."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys

from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import ArraySource, AudioFileSource, Branch, Chain, Plugin, Session, Slot, Split, render
from rackhost.chain.chain import SplitSlotError
from rackhost.chain.dsp import db_to_gain
from rackhost.chain.midi.mapping import MappingTarget
from rackhost.cli.chain_spec import parse_chain
from rackhost.errors import ChainSpecError, MidiMappingError, SessionError
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.apply import preset_from
from rackhost.presets.preset import FORMAT_VERSION as PRESET_VERSION
from rackhost.presets.preset import PresetError, restore_chain
from rackhost.presets.preset_file import read_preset, write_preset
from rackhost.presets.session_file import FORMAT_VERSION as SESSION_VERSION
from rackhost.presets.session_file import SessionFileError


def _noise(channels: int, frames: int, seed: int = 0, level: float = 0.1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, frames)) * level).astype(np.float32)


def _one_track(audio: np.ndarray, chain: Chain, block: int = 256) -> Session:
    session = Session(sample_rate=SR, block_size=block)
    session.add_track("t", ArraySource(audio, SR), chain)
    return session


def _parallel(latent: str, level_db: float = -6.0) -> Chain:
    return Chain([Split([Branch(Chain([Plugin.create(latent)]), level_db), Branch()])])


# -- alignment -----------------------------------------------------------------------------------------


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    latent=st.sampled_from(["BrickwallLimiter", "ZaMaximX2"]),  # 240 samples of lookahead; a VST3 reporting 480
    block=st.sampled_from([32, 64, 100, 128, 256, 500, 512, 1024]),
    channels=st.sampled_from([1, 2]),
    frames=st.integers(2_000, 9_000),
    where=st.floats(0.0, 0.9, allow_subnormal=False),
    level_db=st.sampled_from([-12.0, -6.0, 0.0, 3.0]),
)
def test_an_impulse_through_a_latent_branch_and_a_dry_branch_arrives_on_one_sample(
        latent, block, channels, frames, where, level_db):
    at = int(where * frames)
    audio = np.zeros((channels, frames), np.float32)
    audio[:, at] = 0.25
    session = _one_track(audio, _parallel(latent, level_db), block)
    result = render(session, tail=False)
    assert result.latency == session.tracks[0].chain.latency(SR, block) > 0
    heard = np.nonzero(np.abs(result.audio) > 1e-6)[1]
    assert set(heard.tolist()) == {at}  # the latent branch and the dry one meet: one click, not two
    # Both paths summed at their levels (a mono track is panned at -3 dB; ZaMaximX2 widens it to stereo).
    panned = 1.0 if channels == 2 or latent == "ZaMaximX2" else np.sqrt(0.5)
    np.testing.assert_allclose(result.audio[:, at], 0.25 * (1 + db_to_gain(level_db)) * panned, rtol=1e-4)


def test_branches_of_different_latency_are_each_delayed_to_the_latest_and_the_split_reports_it():
    chain = Chain([Split([Branch(Chain([Plugin.create("ZaMaximX2")])),  # 480
                          Branch(Chain([Plugin.create("BrickwallLimiter")])),  # 240
                          Branch(Chain([Plugin.create("Gain", gain_db=-6.0)])),  # 0
                          Branch()])])
    assert chain.latency(SR, 128) == 480
    processor = chain.processor(2, SR, 128)
    assert processor.latency == 480
    audio = np.zeros((2, 128 * 12), np.float32)
    audio[:, 5] = 0.1
    out = np.concatenate([processor(audio[:, i : i + 128]).copy() for i in range(0, audio.shape[1], 128)], axis=1)
    assert set(np.nonzero(np.abs(out) > 1e-6)[1].tolist()) == {485}
    np.testing.assert_allclose(out[:, 485], 0.1 * (3 + db_to_gain(-6.0)), rtol=1e-4)


def test_a_track_with_a_latent_split_stays_aligned_with_a_plain_track_in_the_mix():
    audio = np.zeros((2, 4000), np.float32)
    audio[:, 1000] = 0.2
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("split", ArraySource(audio, SR), _parallel("BrickwallLimiter"))
    session.add_track("plain", ArraySource(audio, SR))
    result = render(session, tail=False)
    assert result.latency == 240
    assert set(np.nonzero(np.abs(result.audio) > 1e-6)[1].tolist()) == {1000}


def test_an_impulse_through_every_path_of_a_routed_session_with_splits_lands_on_one_sample():
    audio = np.zeros((2, 6000), np.float32)
    audio[:, 1234] = 0.1
    session = Session(sample_rate=SR, block_size=128)
    kick = session.add_track("kick", ArraySource(audio, SR), _parallel("ZaMaximX2"), output="drums")
    kick.add_send("room", -6.0, pre_fader=True)
    session.add_track("snare", ArraySource(audio, SR), output="drums")
    session.add_track("vox", ArraySource(audio, SR), parse_chain("[Gain(gain_db=-3) | BrickwallLimiter @ -6]"))
    session.add_bus("drums", parse_chain("[BrickwallLimiter | @ -3]; Gain(gain_db=-1)"))
    session.add_bus("room", parse_chain("Gain(gain_db=-2)"), output="drums")
    result = render(session, tail=False)
    assert result.latency == 480 + 240  # the kick's split, then the drum bus's
    assert set(np.nonzero(np.abs(result.audio) > 1e-6)[1].tolist()) == {1234}


# -- summing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_parallel_compression_with_the_real_compressor_sums_as_computed_by_hand(block):
    audio = program_signal(2, 0.6, seed=11)
    chain = parse_chain("[Compressor(threshold_db=-40, ratio=8, attack_ms=2, release_ms=80) @ -6 | ]")
    out = render(_one_track(audio, chain, block), tail=False).audio
    crushed = pedalboard.Compressor(threshold_db=-40, ratio=8, attack_ms=2, release_ms=80)(audio, SR)
    by_hand = audio + db_to_gain(-6.0) * crushed
    np.testing.assert_allclose(out, by_hand, atol=2e-5)
    assert np.max(np.abs(out - audio)) > 0.01  # the crushed copy is there


def test_a_mono_branch_beside_a_widening_stereo_branch_is_added_to_both_channels():
    mono = _noise(1, 6000, seed=2)
    chain = Chain([Split([Branch(Chain([Plugin.create("ZamCompX2", threshold_db=-30, ratio=4)]), -3.0),
                          Branch(Chain([Plugin.create("Gain", gain_db=-2.0)]), 0.0)])])
    assert chain.output_channels(1, SR) == 2
    out = render(_one_track(mono, chain, 512), tail=False).audio  # the track is stereo after its chain: unity
    wet = pedalboard.load_plugin("/usr/lib/vst3/ZamCompX2.vst3")
    wet.threshold_db, wet.ratio = -30, 4
    comp = wet(np.repeat(mono, 2, axis=0), SR, buffer_size=512)
    by_hand = db_to_gain(-3.0) * comp + db_to_gain(-2.0) * mono
    np.testing.assert_allclose(out, by_hand, atol=2e-5)


def test_a_silent_branch_adds_nothing_and_a_bypassed_split_passes_its_input():
    audio = _noise(2, 3000, seed=3)
    silent = Chain([Split([Branch(Chain([Plugin.create("Distortion", drive_db=30)]), -np.inf), Branch()])])
    np.testing.assert_array_equal(render(_one_track(audio, silent), tail=False).audio, audio)
    bypassed = parse_chain("[Distortion(drive_db=30) | Gain(gain_db=6)]")
    bypassed.set_bypass(0)
    np.testing.assert_array_equal(render(_one_track(audio, bypassed), tail=False).audio, audio)


def test_splits_nest_and_a_split_between_slots_runs_in_order():
    audio = _noise(2, 4000, seed=4)
    chain = parse_chain("Gain(gain_db=-3); [Gain(gain_db=-6); [Gain(gain_db=2) | ] @ -1 | @ -20]; Gain(gain_db=1)")
    out = render(_one_track(audio, chain), tail=False).audio
    g = db_to_gain
    inner = g(2.0) + 1.0
    by_hand = audio * g(-3.0) * (g(-6.0) * inner * g(-1.0) + g(-20.0)) * g(1.0)
    np.testing.assert_allclose(out, by_hand, rtol=1e-4, atol=1e-6)


def test_a_chain_with_a_split_clones_resets_and_lists_every_plugin_inside():
    chain = parse_chain("Gain; [Compressor(threshold_db=-30) @ -6 | Reverb]; Limiter")
    assert [s.name for s in chain.plugin_slots()] == ["Gain", "Compressor", "Reverb", "Limiter"]
    copy_ = chain.clone()
    split, twin = chain[1], copy_[1]
    assert isinstance(twin, Split) and twin is not split
    assert twin.branches[0].chain[0].plugin is not split.branches[0].chain[0].plugin
    assert twin.branches[0].chain[0].plugin.get("threshold_db") == -30.0 and twin.branches[0].level_db == -6.0
    with pytest.raises(SplitSlotError, match="slot 1 is the split 'split'"):
        chain.plugin_slot(1)


def test_a_split_needs_two_branches_and_a_sane_level():
    with pytest.raises(ValueError, match="two or more branches"):
        Split([Branch()])
    with pytest.raises(ValueError, match=r"up to \+24"):
        Branch(level_db=40.0)


def test_an_instrument_inside_a_split_is_refused_as_in_a_chain():
    kars = Plugin.load("build/vst3/Kars.vst3")
    with pytest.raises(SessionError, match="Kars is an instrument"):
        Chain([Split([Branch(Chain([kars])), Branch()])]).configure(2, SR)


# -- the --chain syntax ---------------------------------------------------------------------------------


def test_the_chain_syntax_reads_branches_levels_and_a_dry_branch():
    chain = parse_chain("HighpassFilter; [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb")
    assert [type(item) for item in chain] == [Slot, Split, Slot]
    split = chain[1]
    assert [(len(b.chain), b.level_db) for b in split.branches] == [(1, -6.0), (0, 0.0)]
    assert split.branches[0].chain[0].plugin.get("ratio") == 8.0 and split.branches[1].is_dry
    assert [b.level_db for b in parse_chain("[Gain @ -3dB | Chorus; Gain | @ -inf]")[0].branches] == [-3, 0, -np.inf]


@pytest.mark.parametrize("spec, says", [
    ("[Compressor]", "has one branch"),
    ("[Gain | ][Gain | ]", "with ';' between it and the next slot"),
    ("[Gain | ", r"write it as \[BRANCH \| BRANCH\]"),
    ("[Gain @ loud | ]", "'loud' of a branch"),
    ("[Gain @ -1 @ -2 | ]", "has two levels"),
    ("[Gain @ 30 | ]", r"up to \+24"),
])
def test_a_malformed_split_in_the_chain_syntax_is_refused_saying_what_to_write(spec, says):
    with pytest.raises(ChainSpecError, match=says):
        parse_chain(spec)


# -- files -----------------------------------------------------------------------------------------------


def _split_session(wav: Path, block: int = 256) -> Session:
    session = Session(sample_rate=SR, block_size=block)
    session.add_track("t", AudioFileSource(wav), parse_chain(
        "HighpassFilter(cutoff_frequency_hz=60); [ZamCompX2(threshold_db=-30, ratio=6) @ -4 | BrickwallLimiter | ]"))
    session.master.chain.add(Split([Branch(Chain([Plugin.create("Reverb", room_size=0.2)]), -12.0), Branch()],
                                   name="air"))
    return session


def test_a_session_with_splits_saves_and_loads_to_the_same_document_and_the_same_render(tmp_path):
    wav = tmp_path / "in.wav"
    soundfile.write(wav, program_signal(2, 0.4, seed=5).T, SR, subtype="FLOAT")
    session = _split_session(wav)
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format_version"] == SESSION_VERSION >= 5
    stored = doc["tracks"][0]["chain"][1]
    assert stored["name"] == "split" and [b["level_db"] for b in stored["branches"]] == [-4.0, 0.0, 0.0]
    assert stored["branches"][0]["chain"][0]["plugin"]["name"] == "ZamCompX2" and stored["branches"][2]["chain"] == []
    loaded = load_session(tmp_path / "s.json")
    assert loaded.master.chain[0].name == "air"
    assert session_to_dict(loaded, tmp_path) == session_to_dict(session, tmp_path)
    np.testing.assert_array_equal(render(loaded, tail=False).audio, render(_split_session(wav), tail=False).audio)


def test_a_preset_with_a_split_round_trips_and_says_its_version(tmp_path):
    chain = parse_chain("[Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Gain(gain_db=2)")
    write_preset(preset_from("parallel", "mixing", chain), tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["format_version"] == PRESET_VERSION == 2
    restored, report = restore_chain(read_preset(tmp_path / "p.json"))
    assert report
    split = restored[0]
    assert isinstance(split, Split) and split.branches[0].level_db == -6.0 and split.branches[1].is_dry
    assert split.branches[0].chain[0].plugin.get("threshold_db") == -40.0
    audio = _noise(2, 3000, seed=6)
    np.testing.assert_array_equal(render(_one_track(audio, restored), tail=False).audio,
                                  render(_one_track(audio, chain), tail=False).audio)


def test_a_version_4_session_and_a_version_1_preset_open_unchanged(tmp_path):
    v4 = {"format_version": 4, "tracks": [{"name": "a", "chain": [{"plugin": {"name": "Gain"},
                                                                    "parameters": {"gain_db": -3.0}}]}]}
    (tmp_path / "v4.json").write_text(json.dumps(v4))
    session = load_session(tmp_path / "v4.json")
    assert [s.name for s in session.tracks[0].chain] == ["Gain"]
    assert session_to_dict(session)["format_version"] == SESSION_VERSION
    v1 = {"format_version": 1, "name": "old", "stage": "mixing", "slots": [{"plugin": {"name": "Gain"}}]}
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    assert [s.plugin["name"] for s in read_preset(tmp_path / "v1.json").slots] == ["Gain"]


def _split_doc() -> dict:
    return {"format_version": 5, "tracks": [{"name": "a", "chain": [
        {"plugin": {"name": "Gain"}},
        {"name": "par", "branches": [{"level_db": -6.0, "chain": [{"plugin": {"name": "Compressor"}}]},
                                     {"chain": []}]}]}]}


@pytest.mark.parametrize("edit, where, says", [
    (lambda d: d["tracks"][0]["chain"][1]["branches"][0].update(gain=-3), "tracks[0].chain[1].branches[0].gain",
     "unknown key 'gain'"),
    (lambda d: d["tracks"][0]["chain"][1].update(mix=0.5), "tracks[0].chain[1].mix", "unknown key 'mix'"),
    (lambda d: d["tracks"][0]["chain"][1]["branches"][0]["chain"][0].update(wet=1),
     "tracks[0].chain[1].branches[0].chain[0].wet", "unknown key 'wet'"),
    (lambda d: d["tracks"][0]["chain"][1]["branches"].pop(), "tracks[0].chain[1].branches", "two or more branches"),
    (lambda d: d["tracks"][0]["chain"][1]["branches"][1].pop("chain"), "tracks[0].chain[1].branches[1].chain",
     "missing key 'chain'"),
    (lambda d: d["tracks"][0]["chain"][1]["branches"][0].update(level_db="loud"),
     "tracks[0].chain[1].branches[0].level_db", "expected a number"),
    (lambda d: d["tracks"][0]["chain"][1]["branches"][0].update(level_db=99),
     "tracks[0].chain[1].branches[0].level_db", r"up to \+24"),
])
def test_a_session_reader_refuses_a_bad_split_naming_the_path_of_the_problem(tmp_path, edit, where, says):
    doc = copy.deepcopy(_split_doc())
    edit(doc)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(SessionFileError) as err:
        load_session(tmp_path / "s.json")
    assert f"at {where}:" in str(err.value)
    assert re.search(says, str(err.value))


def test_a_preset_reader_refuses_an_unknown_key_in_a_branch_naming_its_path(tmp_path):
    doc = {"format_version": 2, "name": "p", "stage": "mixing", "slots": [
        {"branches": [{"chain": [], "level": -6}, {"chain": []}]}]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    with pytest.raises(PresetError, match=r"at slots\[0\]\.branches\[0\]\.level: unknown key 'level' "
                                          r"\(did you mean 'level_db'\?\)"):
        read_preset(tmp_path / "p.json")


# -- undo ------------------------------------------------------------------------------------------------


def test_every_split_edit_is_one_undo_step_and_undo_brings_back_the_same_sound():
    audio = _noise(2, 3000, seed=8)
    session = _one_track(audio, parse_chain("Gain(gain_db=-2); Compressor(threshold_db=-30, ratio=6)"))
    chain = session.tracks[0].chain
    before = render(session, tail=False).audio
    edit, history = session.edit, session.history
    split = edit.make_split(chain, 1, level_db=-6.0)
    assert isinstance(chain[1], Split) and split.branches[0].chain[0].name == "Compressor" and split.branches[1].is_dry
    made = render(session, tail=False).audio
    branch = edit.add_branch(split, Branch(Chain([Plugin.create("Gain", gain_db=-12.0)])))
    edit.set_branch_level(split.branches[0], -3.0)
    edit.set_branch_level(split.branches[0], -1.0)  # one drag: one step
    history.seal()
    edit.add_slot(branch.chain, Plugin.create("LowpassFilter"))
    edit.set_bypass(split, True)
    edit.remove_branch(split, branch)
    assert history.labels()[0][-6:] == ["run Compressor in parallel", "add a branch to split", "branch level",
                                        "add LowpassFilter", "bypass split", "remove a branch of split"]
    for _ in range(5):
        history.undo()
    assert chain[1] is split and len(split.branches) == 2 and split.branches[0].level_db == -6.0 and not split.bypass
    np.testing.assert_array_equal(render(session, tail=False).audio, made)
    history.undo()
    assert isinstance(chain[1], Slot) and chain[1].name == "Compressor"
    np.testing.assert_array_equal(render(session, tail=False).audio, before)
    history.redo()
    assert chain[1] is split


def test_a_split_keeps_two_branches_and_has_no_parameters_or_wet_dry_of_its_own():
    session = _one_track(_noise(2, 100), parse_chain("[Gain | ]"))
    split = session.tracks[0].chain[0]
    with pytest.raises(SessionError, match="keeps two branches at least"):
        session.edit.remove_branch(split, 0)
    with pytest.raises(SessionError, match="has no parameters"):
        session.edit.set_parameter(split, "gain_db", 1.0)
    with pytest.raises(SessionError, match="no wet/dry of its own"):
        session.edit.set_mix(split, 0.5)
    assert not session.history.can_undo


def test_a_midi_mapping_to_a_split_slot_is_refused_by_name_and_one_into_its_branch_reaches_the_plugin():
    session = _one_track(_noise(2, 100), parse_chain("[Gain | ]"))
    with pytest.raises(MidiMappingError, match="is the split 'split'.*map a plug-in in one of its branches"):
        MappingTarget(0, "parameter", 0, "gain_db").plugin(session)
    inner = session.tracks[0].chain[0].branches[0].chain[0]
    assert MappingTarget(0, "parameter", 0, "gain_db", path=(0, 0)).plugin(session) is inner.plugin


# -- the command line ------------------------------------------------------------------------------------


def _rackhost(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_rackhost_render_with_a_split_in_chain_renders_parallel_compression(wav_file, tmp_path):
    audio = program_signal(2, 0.5, seed=12)
    source = wav_file(audio, "drums.wav")
    out = tmp_path / "out.wav"
    run = _rackhost("render", str(source), "-o", str(out), "--bit-depth", "32", "--no-tail", "--block-size", "128",
                    "--chain", "[Compressor(threshold_db=-40, ratio=8) @ -6 | ]")
    assert run.returncode == 0, run.stderr
    rendered, _ = soundfile.read(out, dtype="float32", always_2d=True)
    crushed = pedalboard.Compressor(threshold_db=-40, ratio=8)(audio, SR)
    np.testing.assert_allclose(rendered.T, audio + db_to_gain(-6.0) * crushed, atol=2e-5)


def test_a_malformed_split_on_the_command_line_exits_2_with_one_line(wav_file, tmp_path):
    run = _rackhost("render", str(wav_file(program_signal(2, 0.1), "in.wav")), "-o", str(tmp_path / "o.wav"),
                    "--chain", "[Compressor]")
    assert run.returncode == 2 and not (tmp_path / "o.wav").exists()
    assert run.stderr.strip().splitlines()[-1].startswith("rackhost: error: split '[Compressor]' has one branch")


def test_presets_save_and_show_a_chain_with_a_split(tmp_path):
    env = dict(os.environ, RACKHOST_DATA_DIR=str(tmp_path / "data"))
    run = _rackhost("presets", "save", "parallel drums", "--stage", "mixing",
                    "--chain", "Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]", env=env)
    assert run.returncode == 0, run.stderr
    shown = _rackhost("presets", "show", "mixing/parallel drums", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines()]
    assert "2. split:" in lines and "branch 1 at -6 dB" in lines and "branch 2 at +0 dB: dry" in lines
    assert any(line.startswith("1. Compressor: threshold_db=-40") for line in lines)
