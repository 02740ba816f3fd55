"""Session files: round trip, relative paths, and clear errors naming the place."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SR, program_signal
from rackhost.chain import Session, render
from rackhost.presets import SessionFileError, load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION


def _session(tmp_path, wav_file) -> Session:
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 0.5), "drums.wav"), gain_db=-2.0, pan=0.1)
    drums.chain.add("ZamCompX2", threshold_db=-22, ratio=4)
    drums.chain.add("Reverb", room_size=0.4).set_mix(0.3)
    bass = session.add_track("bass", wav_file(program_signal(1, 0.4, seed=9), "bass.wav"), mute=True)
    bass.chain.add("ZamEQ2", boost_cut_l_db=3.0)
    session.master.gain_db = -1.5
    session.master.chain.add("ZaMaximX2", threshold_db=-3)
    return session


def test_save_load_render_equals_the_original(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    path = tmp_path / "song.rackhost.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["tracks"][0]["source"] == "drums.wav"  # relative to the session file
    loaded = load_session(path)
    assert [t.name for t in loaded.tracks] == ["drums", "bass"]
    assert loaded.tracks[1].mute and loaded.tracks[0].chain[1].mix == 0.3
    assert np.array_equal(render(session).audio, render(loaded).audio)


def test_relative_sources_follow_the_session_folder(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    save_session(session, tmp_path / "s.json")
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("s.json", "drums.wav", "bass.wav"):
        (tmp_path / name).rename(moved / name)
    assert load_session(moved / "s.json").tracks[0].source.name == "drums.wav"


BAD = [
    ("{not json", "not valid JSON"),
    (json.dumps([]), "expected an object"),
    (json.dumps({"tracks": []}), "format_version"),
    (json.dumps({"format_version": 99}), "newer than this rackhost"),
    (json.dumps({"format_version": 1, "tracks": [{"name": "a", "source": "missing.wav"}]}), "tracks[0].source"),
    (json.dumps({"format_version": 2, "master": {"chain": [{"plugin": {"format": "builtin", "name": "Nope"}}]}}),
     "master.chain[0].plugin"),
    (json.dumps({"format_version": 1, "master": {"chain": [{"plugin": "Reverb", "parameters": {"room_size": 5}}]}}),
     "out of range"),
    (json.dumps({"format_version": 1, "master": {"gain_db": "loud"}}), "master.gain_db"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_session_files_give_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SessionFileError) as err:
        load_session(path)
    assert message in str(err.value) and "bad.json" in str(err.value)
    assert path.read_text() == text


def test_saving_is_atomic_and_leaves_no_temp_files(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    path = tmp_path / "s.json"
    path.write_text("old")
    save_session(session, path)
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_version_1_files_are_migrated_on_load(tmp_path, wav_file):
    wav_file(program_signal(2, 0.3), "a.wav")
    v1 = {"format_version": 1, "tracks": [{"name": "a", "source": "a.wav", "chain": [
        {"plugin": "ZamCompX2", "parameters": {"threshold_db": -20}},
        {"plugin": "/usr/lib/vst3/ZamGateX2.vst3"},
    ]}], "master": {"chain": [{"plugin": "Limiter"}]}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    session = load_session(path)
    assert [s.name for s in session.tracks[0].chain] == ["ZamCompX2", "ZamGateX2"]
    assert session.tracks[0].chain[0].plugin.get("threshold_db") == pytest.approx(-20)
    assert session.master.chain[0].name == "Limiter"


def test_session_keeps_plugin_state_and_loudness_target(tmp_path, wav_file):
    from rackhost.chain import LoudnessTarget

    session = _session(tmp_path, wav_file)
    session.tracks[0].chain[0].plugin.set("knee_db", 8.0)  # set just before saving: the plug-in has not run since
    session.master.chain.add("BrickwallLimiter", true_peak=True)
    session.master.loudness_target = LoudnessTarget(-16.0, -1.5)
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["tracks"][0]["chain"][0]["raw_state"]
    loaded = load_session(tmp_path / "s.json")
    assert loaded.master.loudness_target == LoudnessTarget(-16.0, -1.5)
    assert loaded.tracks[0].chain[0].plugin.get("knee_db") == pytest.approx(8.0)


def test_a_session_with_a_missing_plugin_still_opens_and_reports_it(tmp_path, wav_file):
    from rackhost.presets.preset import RestoreReport

    wav_file(program_signal(2, 0.3), "a.wav")
    doc = {"format_version": 2, "tracks": [{"name": "a", "source": "a.wav", "chain": [
        {"plugin": {"format": "vst3", "name": "SomeCommercialComp"}, "parameters": {"ratio": 4}}]}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    report = RestoreReport()
    session = load_session(path, report)
    assert session.tracks[0].chain[0].bypass
    assert report.missing and "SomeCommercialComp is not installed" in report.missing[0]
    save_session(session, tmp_path / "again.json")
    kept = json.loads((tmp_path / "again.json").read_text())["tracks"][0]["chain"][0]
    assert kept["plugin"]["name"] == "SomeCommercialComp" and kept["parameters"] == {"ratio": 4}


def test_a_misspelt_plugin_name_is_reported_with_the_installed_names_near_it_not_a_package_to_install(
        tmp_path, wav_file):
    from rackhost.presets.preset import RestoreReport

    wav_file(program_signal(2, 0.3), "a.wav")
    doc = {"format_version": 2, "tracks": [{"name": "a", "source": "a.wav", "chain": [
        {"plugin": {"format": "vst3", "name": "ZamCompX3"}}]}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    report = RestoreReport()
    session = load_session(path, report)
    assert session.tracks[0].chain[0].bypass
    note = report.missing[0]
    assert "did you mean ZamComp, ZamCompX2?" in note and "apt install" not in note, note


def test_live_inputs_keep_their_arming_and_monitoring(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    session.add_track("guitar", None, input=(0, 1), armed=True, monitor=False)
    path = tmp_path / "live.json"
    save_session(session, path)
    guitar = load_session(path).tracks[2]
    assert guitar.input == (0, 1) and guitar.armed and not guitar.monitor
    doc = json.loads(path.read_text())
    del doc["tracks"][2]["monitor"]  # files written before monitoring was saved: inputs are heard
    path.write_text(json.dumps(doc))
    assert load_session(path).tracks[2].monitor


def test_tracks_that_play_one_file_share_its_decoded_audio_and_keep_their_paths_as_written(tmp_path, wav_file):
    """Each source holds its whole file decoded: 30 tracks over 8 files held 30 copies in each engine process."""
    from rackhost.presets import session_to_dict
    from rackhost.presets.session_sync import session_from_document

    loop = wav_file(program_signal(2, 0.3), "loop.wav")
    wav_file(program_signal(1, 0.3, seed=4), "other.wav")
    (tmp_path / "sub").mkdir()
    session = Session(sample_rate=SR, block_size=256)
    for i in range(4):
        session.add_track(f"loop {i}", loop)
    session.add_track("other", tmp_path / "other.wav")
    path = tmp_path / "shared.rackhost.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    doc["tracks"][3]["source"] = "sub/../loop.wav"  # the same file, written another way
    path.write_text(json.dumps(doc))

    loaded = load_session(path)
    sources = [t.source for t in loaded.tracks]
    assert len({id(s) for s in sources}) == 3  # loop.wav as written twice, other.wav
    assert sources[0] is sources[1] is sources[2] and sources[3] is not sources[0]
    assert np.array_equal(sources[3].audio(SR), sources[0].audio(SR))
    save_session(loaded, path)
    assert [t["source"] for t in json.loads(path.read_text())["tracks"]] == [
        "loop.wav", "loop.wav", "loop.wav", "sub/../loop.wav", "other.wav"]

    # The engine process starts from a document with absolute paths, through its own reader.
    started = session_from_document(session_to_dict(session))
    assert len({id(t.source) for t in started.tracks}) == 2
