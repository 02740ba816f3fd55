"""Takes: list a track's recordings, play one on the track (one undo step), rename and delete them on disk.

The JACK test records a real take through a live engine, then proves the take the
track now plays is what the offline render plays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, program_signal
from jack_harness import jack_device
from live_takes import BLOCK, clean_take, play_through

from rackhost.chain import Session, render
from rackhost.chain.mixer import strip_gains
from rackhost.chain.takes import (
    FollowRename,
    PeakCache,
    TakeError,
    TakeInUseError,
    delete_take,
    find_take,
    list_takes,
    next_number,
    rename_take,
    take_path,
    use_take,
    waveform_peaks,
)
from rackhost.live import LiveEngine
from rackhost.presets.session_file import load_session, save_session


def _write_take(folder, track: str, number: int, seconds: float = 0.5, seed: int = 1, label: str = ""):
    """A take as the recorder leaves it: a dry file and a wet one (here: the dry one at half level)."""
    dry = program_signal(1, seconds, seed=seed)
    for kind, audio in (("dry", dry), ("wet", dry * 0.5)):
        sf.write(take_path(folder, track, number, kind, label=label), audio.T, SR, subtype="PCM_24")
    return dry


# The file-only tests' block size: their own, not live_takes' BLOCK, whose name would put them in make test's serial
# pass with the JACK take (tests/conftest.py follows the names a test reaches).
FILE_BLOCK = 128


def _session(folder) -> Session:
    session = Session(sample_rate=SR, block_size=FILE_BLOCK)
    vox = session.add_track("lead vox", None, input=(0,), armed=True)
    vox.chain.add("Gain", gain_db=-6.0)
    session.add_track("bass", None, input=(1,))
    return session


def _through_chain(mono: np.ndarray) -> np.ndarray:
    """A mono take as its track plays it: through the chain's -6 dB gain, panned centre (the mix's pan law)."""
    left, right = strip_gains(0.0, 0.0, 1)
    return np.vstack([mono * left, mono * right]) * 10 ** (-6 / 20)


def test_takes_are_listed_by_number_with_their_dry_and_wet_files_and_other_tracks_left_out(tmp_path):
    _write_take(tmp_path, "lead vox", 2)
    _write_take(tmp_path, "lead vox", 1)
    _write_take(tmp_path, "lead vox2", 1)  # another track whose name starts the same
    (tmp_path / "lead_vox-notes.txt").write_text("not a take")
    takes = list_takes(tmp_path, "lead vox")
    assert [t.name for t in takes] == ["take001", "take002"]
    assert takes[0].dry.name == "lead_vox-take001-dry.wav" and takes[0].wet.name == "lead_vox-take001-wet.wav"
    assert takes[0].seconds() == pytest.approx(0.5)
    assert list_takes(tmp_path / "not-yet", "lead vox") == []
    assert next_number(tmp_path, "lead vox") == 3


def test_using_a_take_plays_its_dry_file_through_the_chain_and_one_undo_puts_the_input_back(tmp_path):
    dry = _write_take(tmp_path, "lead vox", 1)
    session = _session(tmp_path)
    vox = session.tracks[0]
    steps = len(session.history.labels()[0])
    use_take(session.edit, vox, find_take(tmp_path, "lead vox", "take001"))
    assert len(session.history.labels()[0]) == steps + 1  # one undo step
    assert vox.input == () and os.path.samefile(vox.source.path, tmp_path / "lead_vox-take001-dry.wav")
    session.tracks.remove(session.tracks[1])  # the bass has no audio offline
    recorded, _ = sf.read(vox.source.path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(render(session, tail=False).audio[:, : dry.shape[1]], _through_chain(recorded[:, 0]),
                               atol=1e-6)
    session.undo()
    assert vox.source is None and vox.input == (0,)


def test_a_printed_take_plays_the_wet_file(tmp_path):
    _write_take(tmp_path, "lead vox", 1)
    session = _session(tmp_path)
    use_take(session.edit, session.tracks[0], find_take(tmp_path, "lead vox", 1), printed=True)
    assert session.tracks[0].source.path.name == "lead_vox-take001-wet.wav"


def test_renaming_moves_both_files_keeps_the_number_and_the_track_playing_it_follows(tmp_path):
    _write_take(tmp_path, "lead vox", 1)
    _write_take(tmp_path, "lead vox", 2, seed=2)
    session = _session(tmp_path)
    vox = session.tracks[0]
    use_take(session.edit, vox, find_take(tmp_path, "lead vox", 2))
    session_file = tmp_path / "song.json"
    save_session(session, session_file)
    reloaded = load_session(session_file)
    renamed = rename_take(find_take(tmp_path, "lead vox", "take002"), "chorus keeper", reloaded.tracks)
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == [
        "lead_vox-take001-dry.wav", "lead_vox-take001-wet.wav",
        "lead_vox-take002-chorus keeper-dry.wav", "lead_vox-take002-chorus keeper-wet.wav"]
    assert renamed.name == "chorus keeper" and renamed.number == 2
    assert find_take(tmp_path, "lead vox", "Chorus Keeper") == renamed == find_take(tmp_path, "lead vox", 2)
    save_session(reloaded, session_file)  # the session names the take by its new name
    assert json.loads(session_file.read_text())["tracks"][0]["source"] == "lead_vox-take002-chorus keeper-dry.wav"
    assert load_session(session_file).tracks[0].source.path.name == "lead_vox-take002-chorus keeper-dry.wav"
    assert next_number(tmp_path, "lead vox") == 3  # a renamed take's number is never given again


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_renamed_track_keeps_its_takes_and_one_undo_gives_them_back_with_its_name(tmp_path):
    _write_take(tmp_path, "lead vox", 1)
    _write_take(tmp_path, "lead vox", 2, label="keeper")
    _write_take(tmp_path, "bass", 1)
    session = _session(tmp_path)
    vox = session.tracks[0]
    use_take(session.edit, vox, find_take(tmp_path, "lead vox", "keeper"))
    steps = len(session.history.labels()[0])
    session.edit.rename_track(session, vox, "vocal", also=[FollowRename(tmp_path, "lead vox", "vocal", session.tracks)])
    assert [(t.number, t.name) for t in list_takes(tmp_path, "vocal")] == [(1, "take001"), (2, "keeper")]
    assert list_takes(tmp_path, "lead vox") == [] and len(list_takes(tmp_path, "bass")) == 1
    assert vox.source.path.name == "vocal-take002-keeper-dry.wav" and vox.source.path.exists()  # it plays on
    assert len(session.history.labels()[0]) == steps + 1  # the name and the files: one step
    session.history.undo()
    assert vox.name == "lead vox" and vox.source.path.name == "lead_vox-take002-keeper-dry.wav"
    assert [t.name for t in list_takes(tmp_path, "lead vox")] == ["take001", "keeper"]
    assert _names(tmp_path) == ["bass-take001-dry.wav", "bass-take001-wet.wav",
                                "lead_vox-take001-dry.wav", "lead_vox-take001-wet.wav",
                                "lead_vox-take002-keeper-dry.wav", "lead_vox-take002-keeper-wet.wav"]
    session.history.redo()
    assert vox.name == "vocal" and [t.name for t in list_takes(tmp_path, "vocal")] == ["take001", "keeper"]


def test_a_renamed_tracks_takes_get_free_numbers_beside_takes_left_under_its_new_name(tmp_path):
    _write_take(tmp_path, "lead vox", 1, seed=1)
    _write_take(tmp_path, "lead vox", 2, seed=2)
    _write_take(tmp_path, "vocal", 1, seed=3)  # a removed track's take, still on disk
    left = sf.read(take_path(tmp_path, "vocal", 1, "dry"))[0]
    session = _session(tmp_path)
    session.edit.rename_track(session, session.tracks[0], "vocal",
                              also=[FollowRename(tmp_path, "lead vox", "vocal", session.tracks)])
    takes = list_takes(tmp_path, "vocal")
    assert [t.number for t in takes] == [1, 2, 3]
    assert np.array_equal(sf.read(takes[0].dry)[0], left)  # the take that was there keeps its number
    session.history.undo()
    assert [t.number for t in list_takes(tmp_path, "lead vox")] == [1, 2]
    assert [t.number for t in list_takes(tmp_path, "vocal")] == [1]


def test_a_track_rename_whose_takes_cannot_move_is_refused_and_changes_nothing(tmp_path, monkeypatch):
    _write_take(tmp_path, "lead vox", 1)
    session = _session(tmp_path)
    before, steps = _names(tmp_path), session.history.labels()
    real_rename = os.rename

    def fail_on_wet(old, new):
        if str(old).endswith("-wet.wav"):
            raise PermissionError(13, "Permission denied")
        real_rename(old, new)

    monkeypatch.setattr(os, "rename", fail_on_wet)
    with pytest.raises(TakeError, match="cannot rename the takes of track 'lead vox' to 'vocal'.*Permission denied"):
        session.edit.rename_track(session, session.tracks[0], "vocal",
                                  also=[FollowRename(tmp_path, "lead vox", "vocal", session.tracks)])
    assert session.tracks[0].name == "lead vox" and _names(tmp_path) == before
    assert session.history.labels() == steps


@pytest.mark.parametrize("label, problem", [
    ("", "empty"), ("   ", "empty"), ("a/b", "characters"), ("../x", "characters"), ("-x", "characters"),
    ("take7", "looks like a take's number"), ("x" * 41, "41 characters"), ("keeper", "already has a take named"),
])
def test_a_bad_new_name_is_refused_and_no_file_moves(tmp_path, label, problem):
    _write_take(tmp_path, "lead vox", 1, label="keeper")
    _write_take(tmp_path, "lead vox", 2)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(TakeError, match=problem):
        rename_take(find_take(tmp_path, "lead vox", 2), label)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_rename_that_fails_half_way_puts_the_first_file_back(tmp_path, monkeypatch):
    _write_take(tmp_path, "lead vox", 1)
    before = sorted(p.name for p in tmp_path.iterdir())
    real_rename = os.rename

    def fail_on_wet(old, new):
        if str(old).endswith("-wet.wav"):
            raise PermissionError(13, "Permission denied")
        real_rename(old, new)

    monkeypatch.setattr(os, "rename", fail_on_wet)
    with pytest.raises(TakeError, match="cannot rename take 'take001' to 'chorus'.*Permission denied"):
        rename_take(find_take(tmp_path, "lead vox", 1), "chorus")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_deleting_removes_both_files_and_nothing_else(tmp_path):
    _write_take(tmp_path, "lead vox", 1)
    _write_take(tmp_path, "lead vox", 2)
    delete_take(find_take(tmp_path, "lead vox", 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lead_vox-take002-dry.wav", "lead_vox-take002-wet.wav"]
    with pytest.raises(TakeError, match="track 'lead vox' has no take 'take001'; its takes: take002"):
        find_take(tmp_path, "lead vox", "take001")


def test_deleting_the_take_a_track_plays_is_refused_and_the_files_stay(tmp_path):
    _write_take(tmp_path, "lead vox", 1)
    session = _session(tmp_path)
    take = find_take(tmp_path, "lead vox", 1)
    use_take(session.edit, session.tracks[0], take)
    with pytest.raises(TakeInUseError, match="take 'take001' is the audio file of track 'lead vox'; give the track "
                                             "another take"):
        delete_take(take, session.tracks)
    assert all(p.exists() for p in take.files)


def test_a_track_without_takes_says_how_to_get_one(tmp_path):
    with pytest.raises(TakeError, match="track 'drums' has no takes in .*; arm it and record one first"):
        find_take(tmp_path, "drums", 1)


def test_waveform_peaks_hold_each_columns_extremes_and_are_read_once(tmp_path):
    audio = np.zeros((2, 1000), np.float32)
    audio[0, 100] = 0.9   # column 0 of 10 (frames 0..99 are column 0, 100..199 column 1)
    audio[1, 550] = -0.7  # the right channel counts too
    path = tmp_path / "t.wav"
    sf.write(path, audio.T, SR, subtype="FLOAT")
    peaks = waveform_peaks(path, 10, block_frames=64)  # blocks smaller than a column and across its edges
    assert peaks[1, 1] == pytest.approx(0.9) and peaks[5, 0] == pytest.approx(-0.7)
    assert np.count_nonzero(peaks) == 2
    wide = waveform_peaks(path, 4000)  # more columns than frames: none left empty
    assert wide.shape == (4000, 2) and wide[:, 1].max() == pytest.approx(0.9)
    cache = PeakCache()
    first = cache.peaks(path, 10)
    assert cache.peaks(path, 10) is first and cache.reads == 1
    cache.peaks(path, 20)
    assert cache.reads == 2


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_takes_command_lists_uses_renames_and_deletes(tmp_path):
    session_file = tmp_path / "song.json"
    save_session(_session(tmp_path), session_file)
    (tmp_path / "takes").mkdir()
    _write_take(tmp_path / "takes", "lead vox", 1)
    _write_take(tmp_path / "takes", "lead vox", 2, seconds=1.0)
    listed = _cli("takes", "list", str(session_file))
    assert listed.returncode == 0, listed.stderr
    assert "lead vox" in listed.stdout and "take001" in listed.stdout and "1.00 s" in listed.stdout
    assert "bass: no takes" in listed.stdout
    as_json = json.loads(_cli("takes", "list", str(session_file), "--json").stdout)
    assert [t["name"] for t in as_json["lead vox"]] == ["take001", "take002"]
    used = _cli("takes", "use", str(session_file), "lead vox", "take002")
    assert used.returncode == 0, used.stderr
    assert json.loads(session_file.read_text())["tracks"][0]["source"] == "takes/lead_vox-take002-dry.wav"
    assert "take002  (playing)" in _cli("takes", "list", str(session_file)).stdout
    renamed = _cli("takes", "rename", str(session_file), "lead vox", "2", "keeper")
    assert renamed.returncode == 0, renamed.stderr
    assert json.loads(session_file.read_text())["tracks"][0]["source"] == "takes/lead_vox-take002-keeper-dry.wav"
    refused = _cli("takes", "delete", str(session_file), "lead vox", "keeper")
    assert refused.returncode == 2
    assert "take 'keeper' is the audio file of track 'lead vox'" in refused.stderr
    deleted = _cli("takes", "delete", str(session_file), "lead vox", "take001")
    assert deleted.returncode == 0, deleted.stderr
    assert sorted(p.name for p in (tmp_path / "takes").iterdir()) == [
        "lead_vox-take002-keeper-dry.wav", "lead_vox-take002-keeper-wet.wav"]
    unknown = _cli("takes", "use", str(session_file), "drums", "1")
    assert unknown.returncode == 2 and "no track 'drums'" in unknown.stderr and "lead vox, bass" in unknown.stderr


def test_a_take_recorded_under_jack_plays_on_the_track_exactly_as_recorded(jack_server, tmp_path):
    signal = program_signal(1, 1.5, seed=5)
    session = Session(sample_rate=SR, block_size=BLOCK)
    vox = session.add_track("vox", None, input=(0,), armed=True)
    vox.chain.add("Gain", gain_db=-6.0)

    def take():
        engine = LiveEngine(session, device=jack_device())
        engine.start()
        try:
            engine.record(tmp_path)
            play_through(jack_server, engine, np.vstack([signal, signal]))
            engine.stop()
        finally:
            engine.close()

    clean_take(take)
    takes = list_takes(tmp_path, "vox")
    last = takes[-1]  # a retake after an xrun is the next number
    assert last.dry is not None and last.wet is not None
    use_take(session.edit, vox, last)
    recorded, _ = sf.read(last.dry, dtype="float32", always_2d=True)
    assert np.abs(recorded).max() > 0.1  # the signal, not silence
    frames = recorded.shape[0]
    np.testing.assert_allclose(render(session, tail=False).audio[:, :frames], _through_chain(recorded[:, 0]),
                               atol=1e-6)
    wet, _ = sf.read(last.wet, dtype="float32", always_2d=True)
    np.testing.assert_allclose(wet[:, 0], recorded[: wet.shape[0], 0] * 10 ** (-6 / 20), atol=2 ** -22)
    # The recorded files renamed: the track follows; deleting is refused until the track plays its input again.
    kept = rename_take(last, "keeper", session.tracks)
    assert vox.source.path == kept.dry and kept.dry.exists() and kept.wet.exists() and not last.dry.exists()
    np.testing.assert_allclose(render(session, tail=False).audio[:, :frames], _through_chain(recorded[:, 0]),
                               atol=1e-6)
    with pytest.raises(TakeInUseError):
        delete_take(kept, session.tracks)
    session.undo()
    assert vox.input == (0,) and vox.source is None
    delete_take(kept, session.tracks)
    assert not kept.dry.exists() and not kept.wet.exists()
    assert [t.number for t in list_takes(tmp_path, "vox")] == [t.number for t in takes[:-1]]


@pytest.mark.parametrize("argv, phrase", [
    (["takes", "list", "nosuch.json"], "session file 'nosuch.json' does not exist; check the path"),
    (["takes", "use", "song.json", "lead vox", "9"], "track 'lead vox' has no take '9'; its takes: take001"),
    (["takes", "use", "song.json", "lead vox", ""], "TAKE"),
    (["takes", "rename", "song.json", "lead vox", "1", "a/b"], "characters a file name cannot safely hold"),
    (["takes", "delete", "song.json", "bass", "1"], "track 'bass' has no takes in"),
])
def test_takes_command_slips_are_one_clear_line_and_touch_no_file(tmp_path, argv, phrase):
    save_session(_session(tmp_path), tmp_path / "song.json")
    (tmp_path / "takes").mkdir()
    _write_take(tmp_path / "takes", "lead vox", 1)
    before = sorted(p.name for p in (tmp_path / "takes").iterdir()), (tmp_path / "song.json").read_text()
    run = subprocess.run([sys.executable, "-m", "rackhost", *argv], capture_output=True, text=True, timeout=120, check=False,
                         cwd=tmp_path)
    assert run.returncode == 2 and phrase in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert (sorted(p.name for p in (tmp_path / "takes").iterdir()), (tmp_path / "song.json").read_text()) == before
