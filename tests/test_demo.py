"""The demo session: synthesized sources, real plug-in chains, a sane and safe master."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import RenderResult, render
from rackhost.cli import demo

MASTER_LATENCY = 480  # ZaMaximX2 on the master
# About one bar (enough for every instrument and the limiter, fast to render), cut so that the
# sources plus the master's latency are whole blocks (188 x 512): where tails were once not rendered.
SECONDS = (188 * 512 - MASTER_LATENCY) / demo.SAMPLE_RATE
TAIL_THRESHOLD = 10 ** (-90 / 20)

EXPECTED_CHANNELS = {"drums": 2, "bass": 1, "pad": 2, "voice": 1}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderResult, list[str]]:
    folder = tmp_path_factory.mktemp("demo")
    printed: list[str] = []
    result = demo.run_demo(folder, print=printed.append, seconds=SECONDS)
    return folder, result, printed


def rms_dbfs(audio: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(np.square(audio)))) + 1e-12)


def test_sources_exist_with_expected_channels(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    folder, _, _ = rendered
    expected = [n for n in demo.TRACKS if n != "voice" or demo.voice_available()]
    for name in expected:
        info = sf.info(str(folder / f"{name}.wav"))
        assert info.channels == EXPECTED_CHANNELS[name], name
        assert info.subtype == "PCM_24"
        audio, _ = sf.read(str(folder / f"{name}.wav"), always_2d=True)
        peak = 20 * math.log10(np.max(np.abs(audio)))
        print(f"{name:6} {info.samplerate} Hz {info.channels} ch  peak {peak:6.2f} dBFS  rms {rms_dbfs(audio):6.2f}")
        assert peak == pytest.approx(demo.SOURCE_PEAK_DBFS, abs=0.1)
        assert rms_dbfs(audio) > -40.0, f"{name} is nearly silent"
    if demo.voice_available():
        # espeak's own rate, kept on purpose so the session has to resample.
        assert sf.info(str(folder / "voice.wav")).samplerate != demo.SAMPLE_RATE


def test_render_is_sane_and_limited(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    folder, result, _ = rendered
    assert result.path == folder / demo.MIX_NAME
    assert result.path.is_file()
    assert sf.info(str(result.path)).subtype == "PCM_24"
    assert result.audio.shape[0] == 2
    assert result.latency == MASTER_LATENCY
    # The pad's reverb and the voice's echo ring on after the sources: rendered until they die away.
    assert result.tail_frames > 0.5 * demo.SAMPLE_RATE
    assert result.audio.shape[1] == round(SECONDS * demo.SAMPLE_RATE) + result.tail_frames
    tail = result.audio[:, -result.tail_frames :]
    assert rms_dbfs(tail[:, : demo.SAMPLE_RATE // 4]) > -50.0  # audible where the sources stop
    assert np.max(np.abs(tail[:, -1])) > TAIL_THRESHOLD  # ends at the last sample above -90 dBFS...
    assert np.max(np.abs(tail[:, -480:])) < 10 ** (-80 / 20)  # ...having faded, not been cut
    assert np.all(np.isfinite(result.audio))
    assert rms_dbfs(result.audio) > -40.0
    report = result.loudness()
    assert report.integrated_lufs is not None and -30.0 <= report.integrated_lufs <= -5.0
    assert report.true_peak_dbtp <= 0.0  # the limiter works
    assert result.clipped_samples == 0


def test_notes_report_adaptation_and_resampling(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    _, result, _ = rendered
    notes = "\n".join(result.notes)
    assert "ZamCompX2 is stereo-only" in notes  # on the mono bass
    assert "ZamEQ2 is mono-only" in notes  # dual mono on the stereo pad
    if demo.voice_available():
        assert "resampled" in notes


def test_run_demo_prints_file_notes_and_loudness(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    folder, result, printed = rendered
    text = "\n".join(printed)
    assert str(folder / demo.MIX_NAME) in text
    for note in result.notes:
        assert note in text
    for line in result.loudness().lines():
        assert line in text


def test_sources_are_deterministic(tmp_path: Path) -> None:
    first = demo.write_demo_sources(tmp_path / "a", seconds=0.5)
    second = demo.write_demo_sources(tmp_path / "b", seconds=0.5)
    assert first.keys() == second.keys()
    for name in first:
        assert np.array_equal(sf.read(str(first[name]))[0], sf.read(str(second[name]))[0]), name


def test_existing_sources_are_reused(tmp_path: Path) -> None:
    paths = demo.write_demo_sources(tmp_path, seconds=0.5)
    stamps = {name: p.stat().st_mtime_ns for name, p in paths.items()}
    session = demo.build_demo_session(tmp_path, seconds=SECONDS)
    assert {name: p.stat().st_mtime_ns for name, p in paths.items()} == stamps
    assert session.length() == int(0.5 * demo.SAMPLE_RATE)


def test_without_espeak_the_voice_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = demo.shutil.which
    monkeypatch.setattr(demo.shutil, "which", lambda cmd, *a, **k: None if cmd == "espeak-ng" else real_which(cmd))
    paths = demo.write_demo_sources(tmp_path, seconds=0.5)
    assert set(paths) == {"drums", "bass", "pad"}
    session = demo.build_demo_session(tmp_path)
    assert [t.name for t in session.tracks] == ["drums", "bass", "pad"]


def test_out_may_be_a_file_or_a_folder(tmp_path: Path) -> None:
    assert demo.mix_path(tmp_path, None) == tmp_path / demo.MIX_NAME
    assert demo.mix_path(tmp_path, tmp_path / "mix.flac") == tmp_path / "mix.flac"
    assert demo.mix_path(tmp_path, tmp_path / "renders") == tmp_path / "renders" / demo.MIX_NAME
    assert (tmp_path / "renders").is_dir()


def test_saved_demo_session_renders_the_same_mix(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    from rackhost.presets import load_session

    folder, result, _ = rendered
    again = render(load_session(folder / demo.SESSION_NAME))
    assert np.array_equal(again.audio, result.audio)


# -- what the demo prints: each track's width after its chain ------------------------


def summary_widths(session) -> dict[str, str]:
    """Track name -> the width column of :func:`demo.chain_summary` (the master line has none)."""
    return {line.split()[0]: line.split()[1] for line in demo.chain_summary(session)[:-1]}


def test_the_printed_summary_shows_the_bass_widened_by_its_stereo_only_compressor(
    rendered: tuple[Path, RenderResult, list[str]],
) -> None:
    _, _, printed = rendered
    rows = {line.split()[0]: line.split()[1] for line in printed if line.startswith("  ") and len(line.split()) > 3}
    assert rows["bass"] == "mono>stereo"  # mono source, stereo from ZamCompX2 on
    assert rows["drums"] == rows["pad"] == "stereo"
    if demo.voice_available():
        assert rows["voice"] == "mono"  # only mono-only plug-ins: it stays mono


@pytest.fixture(scope="module")
def demo_session(rendered: tuple[Path, RenderResult, list[str]]):
    folder, _, _ = rendered
    return demo.build_demo_session(folder, seconds=SECONDS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_summary_gives_each_track_the_width_its_chain_puts_out(demo_session, data) -> None:
    # Any track kept mono or not, any slot bypassed or not (a bypassed widening slot still widens).
    for track in demo_session.tracks:
        track.keep_mono = data.draw(st.booleans(), label=f"{track.name} keep_mono")
        for slot in track.chain:
            slot.bypass = data.draw(st.booleans(), label=f"{track.name} {slot.name} bypass")
    widths = summary_widths(demo_session)
    block = 512
    for track in demo_session.tracks:
        source, _ = sf.read(str(track.source.path), frames=block, dtype="float32", always_2d=True)
        chain = track.chain.processor(track.channels, demo.SAMPLE_RATE, block, keep_mono=track.keep_mono)
        out_channels = chain(np.ascontiguousarray(source.T)).shape[0]  # the audio itself says how wide it is
        expected = "stereo" if source.shape[1] == 2 else ("mono>stereo" if out_channels == 2 else "mono")
        assert widths[track.name] == expected, (track.name, track.keep_mono, [s.bypass for s in track.chain])


# -- every line the commands print is rackhost's own ------------------------------


REPO_ROOT = Path(__file__).resolve().parents[1]
# What plug-ins print from inside their calls (DPF's assertions and teardown warnings, JUCE, libjack).
PLUGIN_CHATTER = ("DPF", "assertion failure", "fIsActive", "JUCE", "jack")


def rackhost(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True,
                          env=env, cwd=str(REPO_ROOT), timeout=timeout)


def assert_only_rackhost_wrote(run: subprocess.CompletedProcess) -> None:
    """stderr holds only rackhost's own lines ('rackhost: ...'); neither stream carries plug-in chatter."""
    assert run.returncode == 0, run.stderr[-2000:]
    foreign = [line for line in run.stderr.splitlines() if not line.startswith("rackhost: ")]
    assert foreign == []
    for chatter in PLUGIN_CHATTER:
        assert chatter not in run.stdout, chatter


def test_the_demo_command_prints_only_rackhost_lines(tmp_path: Path) -> None:
    # Short sources written first are used as they are, so the command renders 2 s, not 8.
    demo.write_demo_sources(tmp_path, seconds=SECONDS)
    run = rackhost("demo", "--out", str(tmp_path))
    assert_only_rackhost_wrote(run)
    assert "  bass   mono>stereo" in run.stdout and "loudness:" in run.stdout
    assert (tmp_path / demo.MIX_NAME).is_file() and (tmp_path / demo.SESSION_NAME).is_file()


@pytest.mark.parametrize("preset, rate, seconds", [
    ("mastering/cd", 44100, 5.0),
    ("mastering/streaming", 48000, 3.0),
    ("mastering/broadcast-ebu", 48000, 1.5),
    ("mastering/podcast", 22050, 4.0),
])
def test_a_loudness_targeted_mastering_render_prints_only_rackhost_lines(tmp_path: Path, preset: str, rate: int,
                                                                         seconds: float) -> None:
    # A loudness target renders twice: the second pass's reset used to re-prepare every DPF plug-in
    # while active ("assertion failure: ! fIsActive"), as did saving a session after a render.
    frames = int(seconds * rate)
    t = np.arange(frames) / rate
    rng = np.random.default_rng(frames)
    music = 0.3 * np.sin(2 * np.pi * 220.0 * t)[:, None] + 0.05 * rng.standard_normal((frames, 2))
    source = tmp_path / "in.wav"
    sf.write(str(source), music.astype(np.float32), rate, subtype="PCM_24")
    run = rackhost("render", str(source), "-o", str(tmp_path / "out.wav"), "--preset", preset)
    assert_only_rackhost_wrote(run)
    assert "loudness target" in run.stdout and "achieved" in run.stdout


# The demo mix's samples. First rendered on main before the code moved into rackhost/live and rackhost/cli
# (issue 15): a move of code must not change a single sample. If a deliberate change of sound
# (a plug-in's settings in the demo, the mixer's maths) alters it, render it again and say why in the commit.
# Rendered again for issue 16: the demo is routed (drum bus with parallel compression, reverb bus fed by
# sends (the factory's mixing/reverb-send) in place of the pad's own MVerb, a music bus ducked under the voice by the keyed ZamCompX2).
DEMO_MIX_SHA256 = "ff5fb43456a98ebafc911699e6f4f5bc208772d32764309332b6dc4586d95a84"


def test_demo_mix_is_bit_identical_to_the_routed_mix(
    rendered: tuple[Path, RenderResult, list[str]],
) -> None:
    import hashlib

    from rackhost.chain.keyed import KEYED_VST3_FOLDER, find_keyed_plugin

    _, result, _ = rendered
    assert demo.voice_available(), "espeak-ng is missing: 'make setup' installs it"
    assert find_keyed_plugin("ZamCompX2").parent == KEYED_VST3_FOLDER, "'make plugins' builds the keyed ZamCompX2"
    audio, _ = sf.read(str(result.path), dtype="int32")
    assert hashlib.sha256(audio.tobytes()).hexdigest() == DEMO_MIX_SHA256


# -- the routing a newcomer hears: a drum bus, a parallel split, a reverb send, a ducking key ------------


def test_the_demo_routes_drums_through_a_parallel_drum_bus_into_a_ducked_music_bus_with_a_shared_reverb(
    demo_session,
) -> None:
    from rackhost.chain import Split

    routes = {s.name: s.output for s in (*demo_session.tracks, *demo_session.busses)}
    assert routes == {"drums": demo.DRUM_BUS, "bass": demo.MUSIC_BUS, "pad": demo.MUSIC_BUS, "voice": None,
                      demo.DRUM_BUS: demo.MUSIC_BUS, demo.MUSIC_BUS: None, demo.REVERB_BUS: None}
    sends = {t.name: [(s.bus, s.pre_fader) for s in t.sends] for t in demo_session.tracks}
    assert sends == {"drums": [(demo.REVERB_BUS, False)], "bass": [], "pad": [(demo.REVERB_BUS, False)],
                     "voice": [(demo.REVERB_BUS, False)]}  # one reverb for all; the bass stays dry
    assert demo_session.bus(demo.REVERB_BUS).chain.origin == "mixing/reverb-send"  # the factory's bus preset
    split = demo_session.bus(demo.DRUM_BUS).chain[0]
    assert isinstance(split, Split) and [len(b.chain) for b in split.branches] == [0, 1]  # dry beside the crush
    duck = demo_session.bus(demo.MUSIC_BUS).chain[0]
    assert (duck.key.source, duck.key.pre_fader) == ("voice", True) and not duck.bypass


def _music_bus_alone(session, *, voice_muted: bool) -> np.ndarray:
    """The music bus soloed (a solo never changes a key), with the voice heard as its key or muted."""
    session.bus(demo.MUSIC_BUS).solo = True
    session.track("voice").mute = voice_muted  # a muted source keys nothing
    return render(session).audio


def test_the_music_bus_ducks_while_the_voice_speaks(rendered: tuple[Path, RenderResult, list[str]]) -> None:
    folder, _, _ = rendered
    keyed = _music_bus_alone(demo.build_demo_session(folder, seconds=SECONDS), voice_muted=False)
    free = _music_bus_alone(demo.build_demo_session(folder, seconds=SECONDS), voice_muted=True)
    # In these short sources the voice speaks from the start; the first half second is its first words.
    spoken = slice(demo.SAMPLE_RATE // 4, demo.SAMPLE_RATE)
    assert rms_dbfs(free[:, spoken]) - rms_dbfs(keyed[:, spoken]) > 4.0


def test_without_a_plugin_that_takes_a_key_the_demo_runs_unducked_and_says_how_to_get_it(
    rendered: tuple[Path, RenderResult, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rackhost.chain import keyed

    folder, _, _ = rendered
    monkeypatch.setattr(keyed, "KEYED_VST3_FOLDER", tmp_path / "not-built")  # build/vst3-keyed not built...
    monkeypatch.setenv("LV2_PATH", str(tmp_path))  # ...and no LV2 build with a key port either
    monkeypatch.delenv(keyed.KEYED_VST3_VARIABLE, raising=False)
    notes: list[str] = []
    session = demo.build_demo_session(folder, seconds=SECONDS, notes=notes)
    duck = session.bus(demo.MUSIC_BUS).chain[0]
    assert duck.key is None and duck.bypass  # unkeyed it would squash the music by its own level
    assert len(notes) == 1 and "not ducked" in notes[0] and "'make plugins'" in notes[0]
    assert render(session).audio.shape[0] == 2  # the rest of the mix still renders
