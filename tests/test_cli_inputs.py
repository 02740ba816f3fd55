"""What the rackhost command refuses, run as real subprocesses: outputs over inputs, numbers out of range,
names that do not exist, empty text. Every refusal is exit status 2 and one line, and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import soundfile as sf
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def rackhost(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def assert_one_error_line(run: subprocess.CompletedProcess, phrase: str = "") -> str:
    lines = run.stderr.splitlines()
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("rackhost: error: "), run.stderr[-2000:]
    assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: nothing written, nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a stereo take, a session of one mono track (ZamComp on it), and a text file."""
    sf.write(tmp_path / "v.wav", program_signal(2, 0.5).T, SR, subtype="PCM_24")
    sf.write(tmp_path / "mono.wav", program_signal(1, 0.5, seed=3).T, SR, subtype="PCM_24")
    session = {"format_version": 3, "sample_rate": SR, "block_size": 256,
               "tracks": [{"name": "vox", "source": "mono.wav", "chain": [{"plugin": {"name": "ZamComp"}}]}],
               "master": {"chain": []}}
    (tmp_path / "mix.json").write_text(json.dumps(session))
    (tmp_path / "notes.txt").write_text("not audio")
    return tmp_path


# -- 1. an output that is one of the inputs ------------------------------------------------------------------


def _symlink(folder: Path) -> str:
    (folder / "link.wav").symlink_to(folder / "v.wav")
    return "link.wav"


def _hard_link(folder: Path) -> str:
    os.link(folder / "v.wav", folder / "hard.wav")
    return "hard.wav"


OVER_INPUT = [
    pytest.param(["render", "v.wav", "--chain", "Gain(gain_db=-6)"], lambda f: "v.wav", id="same-name"),
    pytest.param(["render", "v.wav"], lambda f: "./v.wav", id="dot-slash"),
    pytest.param(["render", "v.wav"], lambda f: str(f / "v.wav"), id="absolute"),
    pytest.param(["render", "v.wav"], lambda f: str(f / "sub" / ".." / "v.wav"), id="dot-dot"),
    pytest.param(["render", "v.wav"], _symlink, id="symlink"),
    pytest.param(["render", "v.wav"], _hard_link, id="hard-link"),
    pytest.param(["render", "--session", "mix.json"], lambda f: "mono.wav", id="session-source"),
    pytest.param(["render", "--session", "mix.json"], lambda f: str(f / "mono.wav"), id="session-source-absolute"),
]


@pytest.mark.parametrize("command, output", OVER_INPUT)
def test_render_refuses_an_output_that_is_one_of_its_inputs(project, command, output):
    (project / "sub").mkdir()
    out = output(project)
    before = listing(project)
    run = rackhost(*command, "-o", out, cwd=project)
    line = assert_one_error_line(run, "writing it would replace what is read; write to another file")
    assert "-out.wav" in line  # says where to write instead
    assert listing(project) == before  # the source is byte for byte what it was, and nothing else was written


def test_a_render_beside_its_input_still_works(project):
    run = rackhost("render", "v.wav", "-o", "v-out.wav", "--chain", "Gain(gain_db=-6)", cwd=project)
    assert run.returncode == 0, run.stderr
    assert sf.info(project / "v-out.wav").frames >= SR // 2


def test_export_refuses_to_write_a_preset_over_its_own_file(project):
    data = project / "data"
    env = dict(os.environ, RACKHOST_DATA_DIR=str(data))
    assert rackhost("presets", "save", "mine", "--stage", "mixing", "--chain", "Gain(gain_db=-3)", env=env).returncode == 0
    stored = next(data.rglob("*.json"))
    before = stored.read_bytes()
    run = rackhost("presets", "export", "mixing/mine", str(stored), env=env)
    assert_one_error_line(run, "is the input")
    assert stored.read_bytes() == before


def test_gui_refuses_a_screenshot_over_the_session_it_opens(project):
    before = listing(project)
    run = rackhost("gui", "mix.json", "--screenshot", "mix.json", "--no-engine", cwd=project)
    assert_one_error_line(run, "--screenshot 'mix.json' is the input")
    assert listing(project) == before


# -- 2. numbers out of range ---------------------------------------------------------------------------------

# (command line before the option, option, kind, lowest, highest). Written out here, not read from the
# parser, so a range that changes or goes missing fails a test.
NUMERIC = [
    (["render", "v.wav", "-o", "out.wav"], "--block-size", int, 16, 16384),
    (["render", "v.wav", "-o", "out.wav"], "--sample-rate", int, 8000, 384000),
    (["render", "v.wav", "-o", "out.wav"], "--max-tail", float, 0, 3600),
    (["render", "v.wav", "-o", "out.wav"], "--threads", int, 1, 256),
    (["live", "--session", "mix.json", "--record", "takes"], "--duration", float, 0.1, 7 * 24 * 3600),
    (["live", "--session", "mix.json", "--record", "takes"], "--block-size", int, 16, 16384),
    (["scan", "--folder", "."], "--timeout", float, 0.1, 3600),
    (["scan", "--folder", "."], "--workers", int, 1, 64),
    (["midi", "program", "mix.json", "--program", "4", "--preset", "mastering/cd"], "--channel", int, 1, 16),
    (["midi", "program", "mix.json", "--channel", "1", "--preset", "mastering/cd"], "--program", int, 0, 127),
    (["midi", "learn", "mix.json", "vox:gain", "--midi-in", "x"], "--timeout", float, 0.1, 3600),
    (["presets", "save", "p", "--stage", "mastering", "--session", "mix.json", "--master"], "--target-lufs",
     float, -70, 0),
    (["presets", "save", "p", "--stage", "mastering", "--session", "mix.json", "--master", "--target-lufs", "-14"],
     "--true-peak", float, -20, 0),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain"], "--jobs", int, 1, 256),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain"], "--timeout", float, 0.1, 86400),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain"], "--loudness-target", float, -70, 0),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain", "--loudness-target", "-14"], "--true-peak", float, -20, 0),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain"], "--block-size", int, 16, 16384),
    (["batch", "v.wav", "-o", "out", "--chain", "Gain"], "--max-tail", float, 0, 3600),
]
NUMERIC_IDS = [f"{c[0]}{'-' + c[1] if c[0] == 'midi' else ''}{option}" for c, option, *_ in NUMERIC]


def outside(kind: type, low: float, high: float) -> st.SearchStrategy[str]:
    """Text for a value below ``low`` or above ``high`` (and, for floats, nan and the infinities)."""
    if kind is int:
        values = st.integers(max_value=int(low) - 1) | st.integers(min_value=int(high) + 1)
        return values.map(str)
    # Distances from the range, not exclude_max/exclude_min: a DPF plug-in loaded earlier in this
    # process turns on flush-to-zero, which breaks hypothesis's own arithmetic next to 0.
    away = st.floats(min_value=1e-6, max_value=1e300, allow_nan=False, allow_infinity=False)
    below = away.map(lambda d: low - d).filter(lambda v: v < low)
    above = away.map(lambda d: high + d).filter(lambda v: v > high)
    return (below | above).map(repr) | st.sampled_from(["nan", "inf", "-inf"])


@pytest.fixture(scope="module")
def quiet_project(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("ranges")
    sf.write(folder / "v.wav", program_signal(2, 0.2).T, SR, subtype="PCM_24")
    doc = {"format_version": 3, "sample_rate": SR, "tracks": [{"name": "vox", "source": "v.wav", "chain": []}]}
    (folder / "mix.json").write_text(json.dumps(doc))
    env = dict(os.environ, RACKHOST_DATA_DIR=str(folder / "data"), RACKHOST_CONFIG_DIR=str(folder / "config"),
               RACKHOST_CACHE_DIR=str(folder / "cache"))
    return folder, env


@pytest.mark.parametrize("before, option, kind, low, high", NUMERIC, ids=NUMERIC_IDS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_number_outside_its_range_exits_2_with_one_line_and_writes_nothing(quiet_project, before, option, kind,
                                                                              low, high, data):
    folder, env = quiet_project
    value = data.draw(outside(kind, low, high), label="value")
    files = listing(folder)
    run = rackhost(*before, f"{option}={value}", cwd=folder, env=env)
    line = assert_one_error_line(run, f"{option} {value} is outside {low:g}..{high:g}")
    assert "Traceback" not in run.stderr and line.count("rackhost: error:") == 1
    assert listing(folder) == files  # no output file, no take folder, no preset, no cache


@pytest.mark.parametrize("before, option, kind, low, high", NUMERIC, ids=NUMERIC_IDS)
def test_a_word_where_a_number_belongs_is_refused_naming_the_range(quiet_project, before, option, kind, low, high):
    folder, env = quiet_project
    line = assert_one_error_line(rackhost(*before, option, "ten", cwd=folder, env=env), f"{option} 'ten' is not")
    assert f"{low:g}..{high:g}" in line


@pytest.mark.parametrize("before, option, kind, low, high", NUMERIC, ids=NUMERIC_IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_number_inside_its_range_is_taken_as_given(before, option, kind, low, high, data):
    from rackhost.cli import build_parser as _parser

    if kind is int:
        value = data.draw(st.integers(min_value=int(low), max_value=int(high)))
    else:
        # allow_subnormal=False: a DPF plug-in loaded earlier in the process turns on flush-to-zero.
        value = data.draw(st.floats(min_value=low, max_value=high, allow_subnormal=False))
    args = _parser().parse_args([*before, f"{option}={value!r}"])
    assert getattr(args, option.lstrip("-").replace("-", "_")) == value


@pytest.mark.parametrize("ends", [["nan", "0"], ["0", "inf"], ["-inf", "1"]])
def test_midi_map_range_ends_must_be_finite(quiet_project, ends):
    folder, env = quiet_project
    before = listing(folder)
    assert_one_error_line(rackhost("midi", "map", "mix.json", "vox:gain", "--cc", "7", "--range", *ends,
                                   cwd=folder, env=env), "--range")
    assert listing(folder) == before


@pytest.mark.parametrize("size, phrase", [("10x10", "outside 320x240..7680x4320"), ("axb", "WIDTHxHEIGHT"),
                                          ("1280", "WIDTHxHEIGHT"), ("99999x720", "outside")])
def test_gui_size_is_checked_before_anything_opens(quiet_project, size, phrase):
    folder, env = quiet_project
    assert_one_error_line(rackhost("gui", "--size", size, "--no-engine", cwd=folder, env=env), phrase)


# -- 3. and 6. names that do not exist, empty text, wrong kinds of file ----------------------------------------

SLIPS = [
    # presets save
    (["presets", "save", "x", "--stage", "mastering", "--session", "mix.json", "--track", "nosuch"],
     "--track 'nosuch': the session has no such track; tracks: vox"),
    (["presets", "save", "x", "--stage", "mixing", "--session", "mix.json", "--track", "vox", "--master"], "not both"),
    (["presets", "save", "x", "--stage", "mixing", "--chain", "Gain", "--session", "mix.json", "--master"],
     "not both"),
    (["presets", "save", "x", "--stage", "mixing", "--chain", ""], "names no plug-in"),
    (["presets", "save", "x", "--stage", "mixing", "--session", "mix.json", "--track", ""], "is empty"),
    (["presets", "export", "mixing/nosuch", "out.json"], "no such preset"),
    (["presets", "export", "mastering/cd", ""], "is empty"),
    (["presets", "import", "."], "cannot be read"),
    (["presets", "export", "mastering/cd", "."], "is a folder"),
    (["presets", "export", "mastering/cd", "no/such/cd.json"], "folder 'no/such' does not exist"),
    (["presets", "export", "mastering/cd", "/proc/cd.json"], "could not write '/proc/cd.json'"),
    (["presets", "frobnicate"], "invalid choice"),
    # midi
    (["midi", "map", "mix.json", "vox:ZamComp.threshold_db", "--cc", "7", "--range", "5", "10"],
     "outside ZamComp.threshold_db's range -80..0 dB"),
    (["midi", "map", "mix.json", "vox:ZamComp.threshold_db", "--cc", "7", "--range", "-100", "0"],
     "range -80..0 dB"),
    (["midi", "map", "mix.json", "vox:pan", "--cc", "7", "--range", "-5", "5"], "pan's range -1..1"),
    (["midi", "map", "mix.json", "vox:gain", "--cc", "7", "--range", "-20", "40"], "gain's range -60..12 dB"),
    (["midi", "map", "mix.json", "vox:gain", "--cc", "7", "--range", "-6", "-6"], "one value"),
    (["midi", "map", "mix.json", "vox:mute", "--cc", "7", "--range", "0", "1"], "takes no range"),
    (["midi", "map", "mix.json", "vox:ZamComp.nosuch", "--cc", "7"], "has no parameter 'nosuch'"),
    (["midi", "map", "mix.json", "nosuch:gain", "--cc", "7"], "no track or bus 'nosuch'; tracks: vox; busses: (none)"),
    (["midi", "map", "mix.json", "vox:NoPlugin.x", "--cc", "7"], "NoPlugin"),
    (["midi", "map", "mix.json", "vox:gain", "--cc", "200"], "0..127"),
    (["midi", "map", "mix.json", "", "--cc", "7"], "is empty"),
    (["midi", "learn", "mix.json", "vox:ZamComp.threshold_db", "--midi-in", "x", "--range", "5", "10"],
     "range -80..0 dB"),
    (["midi", "program", "mix.json", "--program", "4"], "give --preset"),
    (["midi", "program", "mix.json", "--program", "4", "--preset", "mastering/cd", "--track", "nosuch"],
     "no track 'nosuch'"),
    (["midi", "program", "mix.json", "--program", "4", "--preset", "nosuch/preset"], "no such preset"),
    (["midi", "list", "missing.json"], "no such file"),
    (["midi", "list", "v.wav"], "cannot be read"),
    (["midi", "list", "."], "cannot be read"),
    # render
    (["render", "v.wav", "-o", "o.wav", "--chain", ""], "--chain '' names no plug-in"),
    (["render", "v.wav", "-o", "o.wav", "--chain", ";;"], "--chain ';;' names no plug-in"),
    (["render", "v.wav", "-o", "o.wav", "--chain", " ; "], "names no plug-in"),
    (["render", "", "-o", "o.wav"], "is empty"),
    (["render", "v.wav", "-o", ""], "is empty"),
    (["render", "--session", "", "-o", "o.wav"], "is empty"),
    (["render", "-o", "o.wav", "--instrument", ""], "is empty"),
    (["render", "v.wav", "-o", "o.wav", "--preset", ""], "is empty"),
    (["render", "v.wav", "-o", "o.wav", "--midi", ""], "is empty"),
    (["render", "v.wav", "-o", "o.wav", "--preset", "nosuch/preset"], "no such preset"),
    (["render", ".", "-o", "o.wav"], "is a folder"),
    (["render", "notes.txt", "-o", "o.wav"], "cannot read"),
    (["render", "missing.wav", "-o", "o.wav"], "does not exist"),
    (["render", "v.wav", "-o", "no/such/o.wav"], "output folder"),
    (["render", "v.wav", "-o", "/proc/o.wav"], "could not write"),
    (["render", "v.wav", "-o", "o.mp3"], "unsupported output format"),
    (["render", "v.wav", "-o", "o.wav", "--bit-depth", "8"], "--bit-depth: invalid choice"),
    (["render", "v.wav"], "required: -o/--output"),
    (["render", "--session", "missing.json", "-o", "o.wav"], "no such file"),
    (["render", "--session", "v.wav", "-o", "o.wav"], "cannot be read"),
    (["render", "v.wav", "-o", "o.wav", "--session", "mix.json"], "not both"),
    (["render", "v.wav", "-o", "o.wav", "--chain", "NoSuchPlugin"], "unknown plug-in 'NoSuchPlugin'"),
    (["render", "v.wav", "-o", "o.wav", "--chain", "Compressor(ratio=3, ratio=4)"], "'ratio' is given twice"),
    (["render", "-o", "o.wav", "--instrument", "Kars"], "give --midi FILE.mid"),
    (["render", "--session", "mix.json", "-o", "o.wav", "--instrument", "Kars"], "--instrument is for --midi"),
    # live, demo, gui, scan, plugins
    (["live", "--session", "mix.json", "--record", ""], "is empty"),
    (["live", "--session", "mix.json", "--record", "v.wav"], "--record 'v.wav' is a file"),
    (["live", "--session", "mix.json", "--device", ""], "is empty"),
    (["live", "--session", "mix.json", "--take-format", "MP3"], "invalid choice"),
    (["demo", "--out", "v.wav"], "--out 'v.wav' is a file"),
    (["demo", "--out", "/proc/demo"], "cannot create the folder"),
    (["demo", "--out", ""], "is empty"),
    (["scan", "--folder", "no/such/folder"], "is not an existing folder"),
    (["scan", "--add-path", ""], "is empty"),
    (["plugins", "NoSuchPlugin"], "unknown plug-in 'NoSuchPlugin'"),
    (["frobnicate"], "invalid choice"),
    (["render", "v.wav", "-o", "o.wav", "--frobnicate"], "unrecognized arguments"),
]


def _slip_id(case) -> str:
    argv, _ = case
    return " ".join(a if a else "''" for a in argv)[:60]


@pytest.mark.parametrize("argv, phrase", SLIPS, ids=[_slip_id(c) for c in SLIPS])
def test_a_slip_exits_2_with_one_line_naming_it_and_writes_nothing(project, argv, phrase):
    env = dict(os.environ, JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=f"rackhost-none-{uuid.uuid4().hex[:8]}",
               RACKHOST_DATA_DIR=str(project / ".data"))
    before = listing(project)
    run = rackhost(*argv, cwd=project, env=env)
    assert_one_error_line(run, phrase)
    assert "Traceback" not in run.stderr
    assert listing(project) == before


# -- 4. live --record makes its folder -----------------------------------------------------------------------


def test_live_records_into_a_folder_it_creates(jack_server, tmp_path):
    doc = {"format_version": 3, "sample_rate": 48000, "block_size": 128,
           "tracks": [{"name": "mic", "input": [0], "armed": True, "chain": []}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    env = dict(os.environ, **jack_server.env)
    run = rackhost("live", "--session", "s.json", "--record", "takes/today/first", "--duration", "1",
                   cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    takes = sorted(p.name for p in (tmp_path / "takes" / "today" / "first").iterdir())
    assert takes == ["mic-take001-dry.wav", "mic-take001-wet.wav"], takes
    info = sf.info(tmp_path / "takes" / "today" / "first" / "mic-take001-dry.wav")
    assert info.samplerate == 48000 and info.frames > 0


# -- 5. live without an audio server -------------------------------------------------------------------------


def test_live_without_an_audio_server_says_what_devices_says(tmp_path):
    doc = {"format_version": 3, "sample_rate": 48000, "tracks": [{"name": "mic", "input": [0], "chain": []}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    # JACK forced, with no server of that name: no devices on any machine, whatever sound card it has.
    env = dict(os.environ, RACKHOST_AUDIO_API="jack", JACK_NO_START_SERVER="1",
               JACK_DEFAULT_SERVER=f"rackhost-none-{uuid.uuid4().hex[:8]}")
    devices = rackhost("devices", cwd=tmp_path, env=env)
    said = assert_one_error_line(devices, "no audio device found")
    live = rackhost("live", "--session", "s.json", "--duration", "1", cwd=tmp_path, env=env)
    assert assert_one_error_line(live) == said
    assert "Error querying device" not in live.stderr
