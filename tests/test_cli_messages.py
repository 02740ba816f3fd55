"""What a new user is told on day one, run as real subprocesses on real files and the factory presets:
--keep-mono with nothing to keep, saving over a preset, mistyped preset names, a mistyped live session,
export and import mistakes, and the slips found by going through every subcommand with wrong input.
Every refusal is exit status 2, one line that names the thing and the fix, no traceback, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, program_signal
from test_cli_inputs import assert_one_error_line, listing

from rackhost.presets.store import PresetExistsError, PresetNotFoundError, PresetStore, closest_refs


def rackhost(*args: str, folder: Path) -> subprocess.CompletedProcess:
    """The command in ``folder``, with presets, caches and settings of that folder's own."""
    env = dict(os.environ, RACKHOST_DATA_DIR=str(folder / "data"), RACKHOST_CONFIG_DIR=str(folder / "config"),
               RACKHOST_CACHE_DIR=str(folder / "cache"), JACK_NO_START_SERVER="1")
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True,
                          cwd=folder, env=env, timeout=300)


def one_error_line(run: subprocess.CompletedProcess, *phrases: str) -> str:
    assert "Traceback" not in run.stderr
    line = assert_one_error_line(run)
    for phrase in phrases:
        assert phrase in line, (phrase, line)
    return line


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A stereo take, a mono take, a session of one track, a user preset, and files of the wrong kinds."""
    sf.write(tmp_path / "stereo.wav", program_signal(2, 0.5).T, SR, subtype="PCM_24")
    sf.write(tmp_path / "mono.wav", program_signal(1, 0.5, seed=3).T, SR, subtype="PCM_24")
    session = {"format_version": 3, "sample_rate": SR, "block_size": 256,
               "tracks": [{"name": "vox", "source": "mono.wav", "chain": [{"plugin": {"name": "Gain"}}]}]}
    (tmp_path / "mix.json").write_text(json.dumps(session))
    (tmp_path / "empty-session.json").write_text(json.dumps({"format_version": 3, "tracks": []}))
    (tmp_path / "broken.json").write_text('{"format_version": 1, "name": ')
    saved = rackhost("presets", "save", "my-bus", "--stage", "mixing", "--chain", "Gain(gain_db=-3)", folder=tmp_path)
    assert saved.returncode == 0, saved.stderr
    return tmp_path


def user_preset(folder: Path) -> Path:
    return folder / "data" / "presets" / "mixing" / "my-bus.json"


# -- 1. --keep-mono on a stereo INPUT -------------------------------------------------------------------------


def test_keep_mono_on_a_stereo_input_notes_it_has_nothing_to_keep_and_renders_as_usual(project):
    chain = "Gain(gain_db=-6); MVerb"
    plain = rackhost("render", "stereo.wav", "-o", "plain.wav", "--chain", chain, "--no-tail", folder=project)
    kept = rackhost("render", "stereo.wav", "-o", "kept.wav", "--chain", chain, "--no-tail", "--keep-mono",
                    folder=project)
    assert plain.returncode == kept.returncode == 0, kept.stderr
    notes = [line for line in kept.stdout.splitlines() if "--keep-mono" in line]
    assert notes == ["note: --keep-mono has no effect: 'stereo.wav' is already stereo (2 channels); "
                     "it is rendered as usual"]
    assert "--keep-mono" not in plain.stdout and not kept.stderr
    a, b = sf.read(project / "plain.wav")[0], sf.read(project / "kept.wav")[0]
    assert a.shape == b.shape and a.shape[1] == 2 and np.array_equal(a, b)


def test_keep_mono_note_is_in_the_json_report_and_absent_for_a_mono_input(project):
    stereo = rackhost("render", "stereo.wav", "-o", "s.wav", "--chain", "Gain", "--keep-mono", "--json",
                      "--no-tail", folder=project)
    assert stereo.returncode == 0, stereo.stderr
    assert any("--keep-mono has no effect" in n for n in json.loads(stereo.stdout)["notes"])
    mono = rackhost("render", "mono.wav", "-o", "m.wav", "--chain", "MVerb", "--keep-mono", "--no-tail", "--json",
                    folder=project)
    assert mono.returncode == 0, mono.stderr
    assert not any("--keep-mono" in n for n in json.loads(mono.stdout)["notes"])
    assert sf.info(project / "m.wav").channels == 1  # kept mono: the switch did its work


# -- 2. saving over a user preset -------------------------------------------------------------------------------


def test_saving_over_a_user_preset_is_refused_naming_its_file_and_overwrite(project):
    before = listing(project)
    run = rackhost("presets", "save", "my-bus", "--stage", "mixing", "--chain", "Gain(gain_db=-9)", folder=project)
    one_error_line(run, repr(str(user_preset(project))), "--overwrite")
    assert listing(project) == before
    again = rackhost("presets", "save", "my-bus", "--stage", "mixing", "--chain", "Gain(gain_db=-9)", "--overwrite",
                     folder=project)
    assert again.returncode == 0, again.stderr
    assert json.loads(user_preset(project).read_text())["slots"][0]["parameters"]["gain_db"] == -9


def test_the_store_raises_preset_exists_error_and_changes_nothing(tmp_path):
    store = PresetStore(user_dir=tmp_path / "user")
    preset = store.load("mixing/drum-bus")
    from dataclasses import replace

    entry = store.save(replace(preset, name="mine"))
    before = entry.path.read_bytes()
    with pytest.raises(PresetExistsError) as refused:
        store.save(replace(preset, name="mine", description="changed"))
    assert refused.value.path == entry.path and refused.value.ref == "mixing/mine"
    assert "--overwrite" in str(refused.value) and str(entry.path) in str(refused.value)
    assert entry.path.read_bytes() == before and len(list((tmp_path / "user").rglob("*.json"))) == 1


# -- 3. mistyped preset names: did you mean ---------------------------------------------------------------------

TYPOS = [
    (["render", "stereo.wav", "-o", "o.wav", "--preset", "mastering/cdd"], "mastering/cd"),
    (["render", "--session", "mix.json", "-o", "o.wav", "--preset", "mastering/streamin"], "mastering/streaming"),
    (["presets", "show", "mastering/cdd"], "mastering/cd"),
    (["presets", "show", "vocals"], "tracking/vocal"),
    (["presets", "show", "mixing/cd"], "mastering/cd"),  # the right name in another stage
    (["presets", "export", "mastering/cdd", "out.json"], "mastering/cd"),
    (["presets", "duplicate", "mixing/drum-buss", "copy"], "mixing/drum-bus"),
    (["presets", "delete", "mixing/my-buss"], "mixing/my-bus"),
    (["presets", "rename", "my-buss", "other"], "mixing/my-bus"),
    (["midi", "program", "mix.json", "--program", "4", "--preset", "mastering/cdd"], "mastering/cd"),
]


@pytest.mark.parametrize("argv, meant", TYPOS, ids=[" ".join(a[:3]) + " " + m for a, m in TYPOS])
def test_a_mistyped_preset_name_offers_the_closest_names(project, argv, meant):
    before = listing(project)
    line = one_error_line(rackhost(*argv, folder=project), f"did you mean {meant}?")
    assert line.count("/") <= 4  # the close names, not the whole list
    assert listing(project) == before


def test_closest_names_are_only_those_about_as_close_as_the_best():
    store = PresetStore(user_dir=Path("/nonexistent"))
    entries = store.list()
    assert closest_refs("mastering/cdd", entries) == ["mastering/cd"]  # not podcast, though it has a 'cd'
    assert closest_refs("masterng/cd", entries) == ["mastering/cd"]
    assert closest_refs("zzzzzz", entries) == []
    with pytest.raises(PresetNotFoundError) as missing:
        store.find("zzzzzz")
    assert missing.value.close == [] and "mastering/streaming" in str(missing.value)  # nothing close: all of them


def test_a_missing_preset_file_says_file_not_preset(project):
    one_error_line(rackhost("render", "stereo.wav", "-o", "o.wav", "--preset", "mine.json", folder=project),
                   "'mine.json'", "no such file", "check the path")


# -- 4. live: the session file before the audio device ----------------------------------------------------------


@pytest.mark.parametrize("name, phrase", [
    ("missin.json", "no such file; check the path"),
    ("broken.json", "not valid JSON"),
    ("stereo.wav", "not a text file"),
    ("data/presets/mixing/my-bus.json", "this is a preset file, not a session"),
])
def test_live_reports_a_bad_session_file_before_looking_for_an_audio_device(project, name, phrase):
    line = one_error_line(rackhost("live", "--session", name, "--duration", "1", folder=project),
                          f"session file {name!r}", phrase)
    assert "audio device" not in line


# -- 5. presets export and import -------------------------------------------------------------------------------


def test_export_refuses_an_existing_file_unless_overwrite(project):
    (project / "out.json").write_text("keep me")
    run = rackhost("presets", "export", "mastering/cd", "out.json", folder=project)
    one_error_line(run, "'out.json' exists", "--overwrite")
    assert (project / "out.json").read_text() == "keep me"
    again = rackhost("presets", "export", "mastering/cd", "out.json", "--overwrite", folder=project)
    assert again.returncode == 0, again.stderr
    assert json.loads((project / "out.json").read_text())["name"] == "cd"


IMPORT_MISTAKES = [
    (["presets", "import", "missing.json"], ["'missing.json'", "no such file"]),
    (["presets", "import", "stereo.wav"], ["'stereo.wav'", "not a text file", "give the .json file"]),
    (["presets", "import", "."], ["'.'", "it is a folder"]),
    (["presets", "import", "broken.json"], ["'broken.json'", "not valid JSON"]),
    (["presets", "import", "mix.json"], ["'mix.json'", "this is a session file, not a preset", "--track"]),
    (["presets", "import", "data/presets/mixing/my-bus.json"], ["mixing/my-bus", "--overwrite"]),
    (["presets", "import", ""], ["is empty"]),
    (["presets", "export", "mixing/nosuch", "out.json"], ["'mixing/nosuch'", "no such preset"]),
    (["render", "--session", "data/presets/mixing/my-bus.json", "-o", "o.wav"],
     ["this is a preset file, not a session", "--preset FILE"]),
]


@pytest.mark.parametrize("argv, phrases", IMPORT_MISTAKES, ids=[" ".join(a[:3]) for a, _ in IMPORT_MISTAKES])
def test_export_and_import_mistakes_are_one_line_naming_the_path_and_the_fix(project, argv, phrases):
    before = listing(project)
    one_error_line(rackhost(*argv, folder=project), *phrases)
    assert listing(project) == before


def test_importing_over_a_user_preset_with_overwrite_replaces_it(project):
    other = json.loads(user_preset(project).read_text())
    other["description"] = "from a friend"
    (project / "friend.json").write_text(json.dumps(other))
    refused = rackhost("presets", "import", "friend.json", folder=project)
    one_error_line(refused, str(user_preset(project)), "--overwrite")
    run = rackhost("presets", "import", "friend.json", "--overwrite", folder=project)
    assert run.returncode == 0, run.stderr
    assert json.loads(user_preset(project).read_text())["description"] == "from a friend"


# -- 7. other slips found going through every subcommand ----------------------------------------------------------

SLIPS = [
    (["presets", "show", ""], "is empty"),
    (["presets", "delete", ""], "is empty"),
    (["presets", "rename", "mixing/my-bus", ""], "is empty: give a new name"),
    (["presets", "duplicate", "mastering/cd", ""], "is empty: give a new name"),
    (["presets", "list", "--stage", "masterin"], "--stage 'masterin': no preset has this stage (did you mean mastering?)"),
    (["render", "--session", "empty-session.json", "-o", "o.wav"], "has no tracks, so there is nothing to render"),
]


@pytest.mark.parametrize("argv, phrase", SLIPS, ids=[" ".join(a or "''" for a in argv) for argv, _ in SLIPS])
def test_slips_in_every_subcommand_are_one_clear_line(project, argv, phrase):
    before = listing(project)
    one_error_line(rackhost(*argv, folder=project), phrase)
    assert listing(project) == before


def test_an_exported_factory_preset_imports_under_a_name_given_with_name(project):
    assert rackhost("presets", "export", "mastering/cd", "cd.json", folder=project).returncode == 0
    one_error_line(rackhost("presets", "import", "cd.json", folder=project),
                   "'mastering/cd'", "factory presets are read-only", "--name NEW")
    run = rackhost("presets", "import", "cd.json", "--name", "my cd", folder=project)
    assert run.returncode == 0, run.stderr
    assert "imported mastering/my cd" in run.stdout
    shown = rackhost("presets", "show", "mastering/my cd", "--json", folder=project)
    doc = json.loads(shown.stdout)
    assert doc["name"] == "my cd" and doc["loudness_target_lufs"] == -9.0


@pytest.mark.parametrize("action", ["rename", "duplicate"])
def test_rename_or_duplicate_onto_a_saved_name_does_not_offer_an_overwrite_it_lacks(project, action):
    assert rackhost("presets", "save", "other", "--stage", "mixing", "--chain", "Gain", folder=project).returncode == 0
    before = listing(project)
    line = one_error_line(rackhost("presets", action, "mixing/my-bus", "other", folder=project),
                          "'mixing/other'", "exists already", "choose another name")
    assert "--overwrite" not in line
    assert listing(project) == before


# -- 8. a misspelt parameter name: did you mean -------------------------------------------------------------------

PARAMETER_TYPOS = [
    (["render", "stereo.wav", "-o", "o.wav", "--chain", "Compressor(treshold_db=-20)"], "--chain"),
    (["render", "stereo.wav", "-o", "o.wav", "--chain", "Compressor(threshold_db=-20)",
      "--automate", "Compressor.treshold_db=0:-20,1:-10"], "--automate"),
    (["render", "stereo.wav", "-o", "o.wav", "--preset", "mixing/my-comp"], "a preset's parameter"),
    (["presets", "save", "comp", "--stage", "mixing", "--chain", "Compressor(treshold_db=-20)"], "presets save"),
]


@pytest.mark.parametrize("argv, where", PARAMETER_TYPOS, ids=[where for _, where in PARAMETER_TYPOS])
def test_a_misspelt_parameter_name_offers_the_one_it_is_close_to(project, argv, where):
    preset = project / "data" / "presets" / "mixing" / "my-comp.json"
    saved = rackhost("presets", "save", "my-comp", "--stage", "mixing", "--chain", "Compressor(threshold_db=-20)",
                     folder=project)
    assert saved.returncode == 0, saved.stderr
    preset.write_text(preset.read_text().replace('"threshold_db"', '"treshold_db"'))  # a hand-edited preset
    before = listing(project)
    one_error_line(rackhost(*argv, folder=project), "no parameter 'treshold_db'", "did you mean threshold_db?",
                   "valid parameters: attack_ms, ratio, release_ms, threshold_db")
    assert listing(project) == before


def test_a_parameter_name_near_nothing_offers_no_guess_but_still_lists_the_names(project):
    line = one_error_line(rackhost("render", "stereo.wav", "-o", "o.wav", "--chain", "Compressor(knee=3)",
                                   folder=project), "no parameter 'knee'", "valid parameters:")
    assert "did you mean" not in line
