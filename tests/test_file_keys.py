"""Keys rackhost does not know, or required keys that are missing, are refused at every level of a file.

A misspelt ``"slots"`` used to render dry, ``"gain": -20`` loaded as 0 dB: every
such file must be refused with the JSON path of the key (and a did-you-mean
when one is close), and a failed read must leave the file as it was.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from conftest import program_signal
from rackhost.presets import SessionFileError, load_session
from rackhost.presets.preset import PresetError
from rackhost.presets.preset_file import read_preset
from rackhost.presets.preset import FORMAT_VERSION as PRESET_FORMAT_VERSION
from rackhost.presets.session_file import FORMAT_VERSION as SESSION_FORMAT_VERSION

FACTORY = Path(__file__).resolve().parents[1] / "presets"

PRESET = {
    "format_version": 1, "name": "n", "stage": "mixing", "kind": "track", "gain_db": -3.0,
    "slots": [{"plugin": {"format": "builtin", "name": "Compressor"}, "parameters": {"ratio": 2.0},
               "bypass": False, "mix": 1.0}],
    "midi_mappings": [{"channel": 1, "controller": 7, "curve": "linear",
                       "target": {"track": None, "kind": "parameter", "slot": 0, "parameter": "ratio"}}],
}

SESSION = {
    "format_version": 3, "sample_rate": 48000, "block_size": 256,
    "tracks": [
        {"name": "drums", "source": "drums.wav", "gain_db": -2.0, "pan": 0.1, "mute": False, "solo": False,
         "chain": [{"plugin": {"format": "builtin", "name": "Compressor"}, "parameters": {"threshold_db": -20.0},
                    "bypass": False, "mix": 1.0}],
         "ab": {"active": "A", "other": {"chain": [], "preset": None}}},
        {"name": "bass", "instrument": {"plugin": {"format": "vst3", "name": "Nekobi"}, "parameters": {}},
         "midi_channel": 2, "chain": []},
    ],
    "master": {"gain_db": -1.0, "chain": [{"plugin": {"name": "Limiter"}}],
               "loudness_target": {"integrated_lufs": -14.0, "true_peak_dbtp": -1.0}},
    "midi": {"mappings": [{"channel": 1, "controller": 7, "curve": "linear",
                           "target": {"track": 0, "kind": "gain"}}],
             "programs": [{"channel": 1, "program": 4, "track": None, "preset": "mastering/streaming"}]},
}


def _edit(doc: dict, path: tuple, change) -> dict:
    doc = copy.deepcopy(doc)
    obj = doc
    for key in path:
        obj = obj[key]
    change(obj)
    return doc


def _add(key, value=1):
    return lambda obj: obj.__setitem__(key, value)


def _rename(old, new):
    return lambda obj: obj.__setitem__(new, obj.pop(old))


def _drop(key):
    return lambda obj: obj.pop(key)


PRESET_CASES = [
    ((), _rename("gain_db", "gain"), "gain", "did you mean 'gain_db'?"),
    ((), _rename("slots", "slot"), "slot", "did you mean 'slots'?"),
    ((), _add("params", {}), "params", "known keys here:"),
    (("slots", 0), _add("wet", 0.5), "slots[0].wet", "known keys here: bypass, mix, parameters, plugin, raw_state"),
    (("slots", 0), _rename("parameters", "Parameters"), "slots[0].Parameters", "did you mean 'parameters'?"),
    (("slots", 0, "plugin"), _add("vendr", "x"), "slots[0].plugin.vendr", "did you mean 'vendor'?"),
    (("midi_mappings", 0), _rename("controller", "controler"), "midi_mappings[0].controler", "did you mean 'controller'?"),
    (("midi_mappings", 0, "target"), _add("parameters", "ratio"), "midi_mappings[0].target.parameters",
     "did you mean 'parameter'?"),
    ((), _drop("slots"), "slots", "missing key 'slots'"),
    ((), _drop("name"), "name", "missing key 'name'"),
    (("slots", 0), _drop("plugin"), "slots[0].plugin", "missing key 'plugin'"),
    (("slots", 0, "plugin"), _drop("name"), "slots[0].plugin.name", "missing key 'name'"),
    (("midi_mappings", 0), _drop("target"), "midi_mappings[0].target", "missing key 'target'"),
]


@pytest.mark.parametrize("path, change, where, message", PRESET_CASES)
def test_a_preset_with_an_unknown_or_missing_key_is_refused_naming_its_path(tmp_path, path, change, where, message):
    file = tmp_path / "p.json"
    file.write_text(json.dumps(_edit(PRESET, path, change)))
    with pytest.raises(PresetError) as err:
        read_preset(file)
    assert err.value.where == where and message in str(err.value)
    assert "\n" not in str(err.value)


SESSION_CASES = [
    ((), _rename("tracks", "track"), "track", "did you mean 'tracks'?"),
    (("tracks", 0), _rename("gain_db", "gain"), "tracks[0].gain", "did you mean 'gain_db'?"),
    (("tracks", 0), _rename("source", "Source"), "tracks[0].Source", "did you mean 'source'?"),
    (("tracks", 0, "chain", 0), _rename("parameters", "params"), "tracks[0].chain[0].params", "known keys here:"),
    (("tracks", 0, "chain", 0), _add("wet", 0.3), "tracks[0].chain[0].wet", "known keys here:"),
    (("tracks", 0, "ab"), _rename("active", "activ"), "tracks[0].ab.activ", "did you mean 'active'?"),
    (("tracks", 0, "ab", "other"), _rename("chain", "chains"), "tracks[0].ab.other.chains", "did you mean 'chain'?"),
    (("tracks", 1, "instrument"), _add("bypass", True), "tracks[1].instrument.bypass", "known keys here:"),
    (("master",), _add("limiter", True), "master.limiter", "known keys here:"),
    (("master", "loudness_target"), _rename("integrated_lufs", "lufs"), "master.loudness_target.lufs",
     "known keys here: integrated_lufs, true_peak_dbtp"),
    (("midi",), _rename("mappings", "mapping"), "midi.mapping", "did you mean 'mappings'?"),
    (("midi", "mappings", 0, "target"), _rename("track", "Track"), "midi.mappings[0].target.Track",
     "did you mean 'track'?"),
    (("midi", "programs", 0), _rename("preset", "presets"), "midi.programs[0].presets", "did you mean 'preset'?"),
    ((), _drop("format_version"), "format_version", "missing key 'format_version'"),
    ((), _rename("format_version", "formatVersion"), "formatVersion", "did you mean 'format_version'?"),
    (("tracks", 0), _drop("name"), "tracks[0].name", "missing key 'name'"),
    (("master", "loudness_target"), _drop("integrated_lufs"), "master.loudness_target.integrated_lufs", "missing key"),
    (("midi", "mappings", 0), _drop("channel"), "midi.mappings[0].channel", "missing key 'channel'"),
    (("midi", "mappings", 0, "target"), _drop("track"), "midi.mappings[0].target.track", "missing key 'track'"),
    (("midi", "programs", 0), _drop("track"), "midi.programs[0].track", "missing key 'track'"),
]


@pytest.mark.parametrize("path, change, where, message", SESSION_CASES)
def test_a_session_with_an_unknown_or_missing_key_is_refused_naming_its_path(tmp_path, wav_file, path, change,
                                                                             where, message):
    wav_file(program_signal(2, 0.1), "drums.wav")
    file = tmp_path / "mix.json"
    file.write_text(json.dumps(_edit(SESSION, path, change), indent=1))
    before = file.read_bytes(), os.stat(file).st_mtime_ns
    with pytest.raises(SessionFileError) as err:
        load_session(file)
    assert err.value.where == where and message in str(err.value)
    assert f"session file {str(file)!r} at {where}: " in str(err.value) and "\n" not in str(err.value)
    assert (file.read_bytes(), os.stat(file).st_mtime_ns) == before  # a failed read changes nothing on disk


def test_the_documents_these_cases_edit_load_as_they_are(tmp_path, wav_file):
    wav_file(program_signal(2, 0.1), "drums.wav")
    (tmp_path / "mix.json").write_text(json.dumps(SESSION))
    (tmp_path / "p.json").write_text(json.dumps(PRESET))
    session = load_session(tmp_path / "mix.json")
    assert session.tracks[0].gain_db == -2.0 and session.midi.programs[0].preset == "mastering/streaming"
    assert read_preset(tmp_path / "p.json").gain_db == -3.0


@pytest.mark.parametrize("factory", sorted(FACTORY.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_factory_presets_and_a_byte_order_mark_are_accepted(tmp_path, factory):
    plain = read_preset(factory)
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + factory.read_bytes())  # as Notepad writes UTF-8
    assert read_preset(marked) == plain


def test_a_session_with_a_byte_order_mark_loads_like_one_without(tmp_path, wav_file):
    wav_file(program_signal(2, 0.1), "drums.wav")
    (tmp_path / "plain.json").write_text(json.dumps(SESSION), encoding="utf-8")
    (tmp_path / "bom.json").write_text(json.dumps(SESSION), encoding="utf-8-sig")
    assert (tmp_path / "bom.json").read_bytes().startswith(b"\xef\xbb\xbf")
    from rackhost.presets import session_to_dict
    assert session_to_dict(load_session(tmp_path / "bom.json")) == session_to_dict(load_session(tmp_path / "plain.json"))


@pytest.mark.parametrize("kind", ["preset", "session"])
@pytest.mark.parametrize("version", [2, 4, 10**6])
def test_a_newer_format_version_is_refused_naming_the_file_and_nothing_changes(tmp_path, kind, version):
    doc = copy.deepcopy(PRESET if kind == "preset" else SESSION)
    current = PRESET_FORMAT_VERSION if kind == "preset" else SESSION_FORMAT_VERSION  # both docs are older files
    if version <= current:
        version = current + 1
    doc["format_version"] = version
    doc["tracks" if kind == "session" else "slots"].append({"a key from the future": True})
    file = tmp_path / f"{kind}.json"
    file.write_text(json.dumps(doc))
    os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    before = file.read_bytes()
    error = PresetError if kind == "preset" else SessionFileError
    with pytest.raises(error, match=r"at format_version: version \d+ is newer than this rackhost understands") as err:
        (read_preset if kind == "preset" else load_session)(file)
    assert str(file) in str(err.value)
    assert file.read_bytes() == before and os.stat(file).st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [file.name]
