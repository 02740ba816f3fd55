"""Presets capture chains exactly: save, load into fresh plug-ins, render, null."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Chain, Plugin, Session, render
from rackhost.presets.preset import Preset, PresetError, SlotState, capture_chain, restore_chain
from rackhost.presets.preset_file import preset_from_dict, read_preset, write_preset


def _render(chain: Chain, channels: int = 2) -> np.ndarray:
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("t", ArraySource(program_signal(channels, 1.0), SR), chain)
    return render(session).audio


def _round_trip(chain: Chain, tmp_path) -> tuple[Chain, object]:
    preset = Preset("test", "mixing", slots=capture_chain(chain))
    path = tmp_path / "p.json"
    write_preset(preset, path)
    return restore_chain(read_preset(path))


def test_builtin_chain_round_trip_nulls(tmp_path):
    chain = Chain()
    chain.add("HighpassFilter", cutoff_frequency_hz=90)
    chain.add("Compressor", threshold_db=-22, ratio=3.5, attack_ms=5)
    chain.add("LadderFilter", mode="LPF24", cutoff_hz=6000)
    chain.add("Reverb", room_size=0.6).set_mix(0.3)
    chain.add("Delay", delay_seconds=0.2)
    chain.set_bypass("Delay")
    restored, report = _round_trip(chain, tmp_path)
    assert report, report.mismatches
    assert [s.bypass for s in restored] == [False, False, False, False, True]
    assert np.max(np.abs(_render(chain) - _render(restored))) <= 1e-6


@pytest.mark.parametrize("channels", [1, 2])
def test_real_vst3_chain_round_trip_nulls(tmp_path, channels):
    chain = Chain()
    chain.add("ZamCompX2", threshold_db=-24, ratio=5, knee_db=8.0, attack_ms=3)
    chain.add("ZamEQ2", boost_cut_1_db=4.0, frequency_1_hz=2500)
    chain.add("ZamGateX2", threshold_db=-50)
    chain.add("ZaMaximX2", threshold_db=-6)
    restored, report = _round_trip(chain, tmp_path)
    assert report, report.mismatches
    assert restored[0].plugin.get("knee_db") == pytest.approx(8.0)
    assert np.max(np.abs(_render(chain, channels) - _render(restored, channels))) <= 1e-6


def test_preset_stores_state_and_named_values_but_never_outputs(tmp_path):
    chain = Chain()
    chain.add("ZamCompX2", threshold_db=-20)
    doc = Preset("x", "mixing", slots=capture_chain(chain)).to_dict()
    slot = doc["slots"][0]
    assert slot["plugin"]["name"] == "ZamCompX2" and slot["plugin"]["vendor"] == "Damien Zammit"
    assert "path" not in slot["plugin"]  # resolved on each machine, never trusted from a file
    assert base64.b64decode(slot["raw_state"])
    assert slot["parameters"]["threshold_db"] == pytest.approx(-20)
    assert "gain_reduction_db" not in slot["parameters"] and "output_level_db" not in slot["parameters"]


def _doc(**changes) -> dict:
    doc = {"format_version": 1, "name": "n", "stage": "mixing",
           "slots": [{"plugin": {"format": "builtin", "name": "Compressor"}, "parameters": {"ratio": 2}}]}
    doc.update(changes)
    return doc


BAD = [
    (_doc(format_version=7), "format_version", "newer than this rackhost"),
    (_doc(stage="mix/ing"), "stage", "not a valid stage name"),
    (_doc(slots=[{"plugin": {"format": "builtin", "name": "NoSuchPlug"}}]), "slots[0].plugin", "not a pedalboard built-in"),
    (_doc(slots=[{"plugin": {"name": "ZamCompX2"}, "parameters": {"nope": 1}}]), "slots[0].parameters.nope", "valid parameters"),
    (_doc(slots=[{"plugin": {"name": "Compressor"}, "parameters": {"ratio": 1000}}]), "slots[0].parameters.ratio", "out of range"),
    (_doc(slots=[{"plugin": {"name": "Compressor"}, "parameters": {"ratio": [1]}}]), "slots[0].parameters.ratio", "expected a number"),
    (_doc(slots=[{"plugin": {"name": "ZamCompX2"}, "raw_state": "!!!not base64"}]), "slots[0].raw_state", "not valid base64"),
    (_doc(slots=[{"plugin": {"name": "Compressor"}, "mix": 3}]), "slots[0].mix", "wet/dry"),
]


@pytest.mark.parametrize("doc, where, message", BAD)
def test_bad_presets_give_one_clear_error_naming_the_place(doc, where, message):
    with pytest.raises(PresetError) as err:
        restore_chain(preset_from_dict(json.loads(json.dumps(doc)), "bad.json"), "bad.json")
    assert f"at {where}" in str(err.value) and message in str(err.value)


def test_a_missing_vst3_keeps_its_slot_bypassed_and_names_the_package(tmp_path):
    doc = _doc(slots=[
        {"plugin": {"format": "vst3", "name": "ZamNotInstalled", "vendor": "Damien Zammit"},
         "parameters": {"threshold_db": -12.5}, "raw_state": "AAEC", "mix": 0.5},
        {"plugin": {"format": "builtin", "name": "Gain"}, "parameters": {"gain_db": -6.0}},
    ])
    chain, report = restore_chain(preset_from_dict(doc, "p.json"))
    assert [s.name for s in chain] == ["ZamNotInstalled", "Gain"]
    assert chain[0].bypass and not chain[1].bypass
    assert len(report.missing) == 1 and "zam-plugins" in report.missing[0] and "bypassed" in report.missing[0]
    audio = program_signal(2, 0.3)
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("t", ArraySource(audio, SR), chain)
    np.testing.assert_allclose(render(session, tail=False).audio, audio * 10 ** (-6 / 20), atol=1e-6)
    # Saved again, the missing plug-in's identity, values and state are kept as they were.
    again = Preset("p", "mixing", slots=capture_chain(chain)).to_dict()["slots"][0]
    assert again["plugin"]["name"] == "ZamNotInstalled" and again["parameters"] == {"threshold_db": -12.5}
    assert again["raw_state"] == "AAEC" and again["mix"] == 0.5


def test_a_path_outside_the_scanned_folders_is_never_loaded_without_permission(tmp_path):
    evil = tmp_path / "Downloads" / "Evil.vst3" / "Contents" / "x86_64-linux"
    evil.mkdir(parents=True)
    (evil / "Evil.so").write_bytes(b"\x7fELF not really")
    doc = _doc(slots=[{"plugin": {"format": "vst3", "name": "Evil", "path": str(tmp_path / "Downloads/Evil.vst3")}}])
    chain, report = restore_chain(preset_from_dict(doc, "p.json"))
    assert chain[0].bypass and "outside the scanned folders: not loaded" in report.missing[0]
    # With permission it is tried, in a probe process first, and refused there: the slot stays, bypassed.
    chain, report = restore_chain(preset_from_dict(doc, "p.json"), allow_untrusted=True)
    assert chain[0].bypass and [r.name for r in report.refused] == ["Evil"]
    assert "could not load plug-in" in report.missing[0] and "failed its probe" in report.missing[0]


# A DPF plug-in's state and the named values beside it can disagree: the state
# is read without the plug-in having run since its values were set (every value
# set since is missing from it), or a user edits a value in the file by hand.
# Restoring applies the state first, then every named value that differs from
# it, so the named values win and the state keeps what they do not name.
DPF_DISAGREEMENTS = [
    ("ZamCompX2", {"threshold_db": -30.0, "ratio": 2.0, "knee_db": 4.0}, {"threshold_db": -12.0}, {"ratio": 2.0}),
    ("MVerb", {"decay": 20.0, "size": 90.0, "predelay": 10.0}, {"decay": 75.0, "size": 30.0}, {"predelay": 10.0}),
]


@pytest.mark.parametrize("name, in_state, named, state_only", DPF_DISAGREEMENTS, ids=[d[0] for d in DPF_DISAGREEMENTS])
def test_restoring_applies_the_state_first_then_the_named_values_that_disagree_with_it(name, in_state, named,
                                                                                       state_only):
    source = Plugin.create(name, **in_state)
    source.flush()
    state = base64.b64encode(source.instance.raw_state).decode("ascii")
    slot = SlotState({"format": "vst3", "name": name}, dict(named), state)
    chain, report = restore_chain(Preset("p", "mixing", slots=[slot]))
    plugin = chain[0].plugin
    for pname, value in {**named, **state_only}.items():  # named values over the state; the rest from the state
        span = plugin.parameters[pname].maximum - plugin.parameters[pname].minimum
        assert plugin.get(pname) == pytest.approx(value, abs=1e-3 * span), pname
    assert report, report.mismatches
    # What is heard: the same as a fresh plug-in set to those values directly.
    expected = Plugin.create(name, **{**in_state, **named})
    assert np.array_equal(_render(_chain_of(expected)), _render(chain))


def _chain_of(plugin: Plugin) -> Chain:
    chain = Chain()
    chain.add(plugin)
    return chain


def test_a_captured_state_alone_restores_values_set_just_before_the_capture():
    """The plug-in runs before its state is read: values set since it last ran are in the state."""
    chain = Chain()
    chain.add("ZamCompX2", threshold_db=-33.0, ratio=6.0, makeup_db=3.0)  # set, never processed
    state = capture_chain(chain)[0]
    fresh = Plugin.create("ZamCompX2")
    fresh.instance.raw_state = base64.b64decode(state.raw_state)  # the state alone, no named values
    assert fresh.get("threshold_db") == pytest.approx(-33.0, abs=0.01)
    assert fresh.get("ratio") == pytest.approx(6.0, abs=0.01) and fresh.get("makeup_db") == pytest.approx(3.0, abs=0.01)
