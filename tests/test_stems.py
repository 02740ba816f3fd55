"""Stems: every track and bus as its own file, post-fader as it feeds its destination, lined up with the mix.

Real plug-ins throughout (Debian's ZamCompX2 and ZaMaximX2, which reports 480
samples of latency, and pedalboard's built-ins); each stem is checked against
the same strip rendered alone, not against the code that wrote it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import ArraySource, Chain, LoudnessTarget, Plugin, Session, render
from rackhost.chain.render import render_to_file
from rackhost.chain.stems import safe_file_name, stem_files
from rackhost.errors import AudioFileError

SR = 48000
QUIET = 10.0 ** (-90.0 / 20.0)  # where a tail ends: what a render may leave out past its end


def _noise(channels: int, frames: int, seed: int, level: float = 0.1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, frames)) * level).astype(np.float32)


def _stems(folder: Path, session: Session, **options: object) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The mix and every stem (by strip name), rendered as 32-bit float files and read back."""
    result = render_to_file(session, folder / "mix.wav", bit_depth=32, stems=folder / "stems", **options)
    stems = {s.name: sf.read(s.path, dtype="float32", always_2d=True)[0].T for s in result.stems}
    mix = sf.read(folder / "mix.wav", dtype="float32", always_2d=True)[0].T
    return mix, stems


def _same_as_alone(stem: np.ndarray, alone: np.ndarray) -> None:
    """``stem`` holds all of ``alone`` (the strip rendered on its own) and nothing audible after it."""
    assert stem.shape[1] >= alone.shape[1], "the stem is shorter than the strip rendered alone: its tail was cut"
    np.testing.assert_allclose(stem[:, : alone.shape[1]], alone, atol=2e-6)
    assert float(np.max(np.abs(stem[:, alone.shape[1]:]), initial=0.0)) <= QUIET


# -- tracks straight into the master: the stems are the mix ------------------------------------------------


def _plain_session(block: int, lengths: tuple[int, int, int], pans: tuple[float, float]) -> Session:
    session = Session(block_size=block)
    session.add_track("glued", ArraySource(_noise(2, lengths[0], 1), SR),
                      Chain([Plugin.create("ZamCompX2", threshold_db=-30.0, ratio=4.0)]), gain_db=-2.0)
    session.add_track("limited", ArraySource(_noise(1, lengths[1], 2), SR),
                      Chain([Plugin.create("ZaMaximX2")]), pan=pans[0])  # 480 samples late: compensated
    session.add_track("room", ArraySource(_noise(1, lengths[2], 3), SR),
                      Chain([Plugin.create("Reverb", room_size=0.6)]), gain_db=-6.0, pan=pans[1])
    return session


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    block=st.sampled_from([16, 64, 127, 128, 500, 512, 2048]),
    lengths=st.tuples(*[st.integers(1, 30000)] * 3),
    pans=st.tuples(*[st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)] * 2),
)
def test_stems_of_tracks_into_the_master_sum_to_the_mix(block, lengths, pans):
    with tempfile.TemporaryDirectory() as folder:
        mix, stems = _stems(Path(folder), _plain_session(block, lengths, pans))
    assert sorted(stems) == ["glued", "limited", "room"]
    for name, stem in stems.items():
        assert stem.shape == (2, mix.shape[1]), f"stem {name!r} is not as long as the mix"
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-6)


def test_a_muted_track_has_a_silent_stem_as_long_as_the_mix(tmp_path):
    session = _plain_session(128, (20000, 9000, 5000), (0.0, 0.0))
    session.track("limited").mute = True
    mix, stems = _stems(tmp_path, session)
    assert stems["limited"].shape == (2, mix.shape[1]) and not np.any(stems["limited"])
    np.testing.assert_allclose(stems["glued"] + stems["room"], mix, atol=1e-6)


# -- a routed session: each stem is what its strip feeds its destination ------------------------------------


def _routed(block: int, frames: int, keep: set[str] | None = None, solo: str | None = None,
            music_to_master: bool = False) -> Session:
    """Kick and snare into a drum bus (a latent limiter on it) into a music bus; vocal and guitar to the master,
    both sending to a reverb bus (the vocal post-fader, the guitar pre-fader). ``keep``: only those tracks."""
    session = Session(block_size=block)
    tracks = [
        ("kick", _noise(1, frames, 1), [("ZamCompX2", {"threshold_db": -25.0})], {"output": "drums"}, None),
        ("snare", _noise(2, frames // 2 + 1, 2), [], {"output": "drums", "pan": -0.4, "gain_db": -3.0}, None),
        ("vocal", _noise(1, frames, 3), [], {"gain_db": -4.0, "pan": 0.3}, ("reverb", -6.0, False)),
        ("guitar", _noise(2, frames + 700, 4), [("ZaMaximX2", {})], {"gain_db": -8.0}, ("reverb", -10.0, True)),
    ]
    for name, audio, chain, options, send in tracks:
        if keep is not None and name not in keep:
            continue
        if keep == {name}:  # the track alone: straight to the master, as it leaves its fader
            options = {k: v for k, v in options.items() if k != "output"}
        track = session.add_track(name, ArraySource(audio, SR),
                                  Chain([Plugin.create(n, **p) for n, p in chain]), **options)
        if send is not None and keep is None:
            track.add_send(send[0], send[1], pre_fader=send[2])
    if keep is None or keep & {"kick", "snare"} and len(keep) > 1:
        session.add_bus("drums", Chain([Plugin.create("ZaMaximX2"), Plugin.create("Gain", gain_db=-2.0)]),
                        gain_db=-1.0, pan=0.2, output=None if music_to_master else "music")
        if not music_to_master:
            session.add_bus("music", Chain([Plugin.create("LowShelfFilter", gain_db=3.0)]), gain_db=-1.5)
    if keep is None:
        session.add_bus("reverb", Chain([Plugin.create("Reverb", wet_level=1.0, dry_level=0.0)]), gain_db=-3.0)
    if solo is not None:
        session.bus(solo).solo = True
    return session


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([32, 128, 333, 1024]), frames=st.integers(2000, 12000))
def test_each_stem_of_a_routed_session_is_its_strip_rendered_alone(block, frames):
    with tempfile.TemporaryDirectory() as folder:
        mix, stems = _stems(Path(folder), _routed(block, frames))
    assert sorted(stems) == ["drums", "guitar", "kick", "music", "reverb", "snare", "vocal"]
    for name, stem in stems.items():
        assert stem.shape == (2, mix.shape[1]), f"stem {name!r} is not as long as the mix"
    # A track's stem is its chain and fader, without its sends: the track alone on the master.
    for name in ("kick", "snare", "vocal", "guitar"):
        _same_as_alone(stems[name], render(_routed(block, frames, keep={name})).audio)
    # The drum bus's stem: the drums through the bus's chain and fader, on their own (the bus onto the master).
    _same_as_alone(stems["drums"], render(_routed(block, frames, keep={"kick", "snare"},
                                                  music_to_master=True)).audio)
    # A bus feeding the master, soloed, plays what it feeds the master: the reverb return, the music bus.
    for bus in ("reverb", "music"):
        _same_as_alone(stems[bus], render(_routed(block, frames, solo=bus)).audio)
    # The strips that feed the master make the mix (no master chain, unity master gain).
    np.testing.assert_allclose(stems["vocal"] + stems["guitar"] + stems["music"] + stems["reverb"], mix, atol=1e-6)


def test_with_the_reverb_bus_soloed_only_what_reaches_a_destination_is_in_a_stem(tmp_path):
    mix, stems = _stems(tmp_path, _routed(256, 6000, solo="reverb"))
    # The vocal's fader still feeds its post-fader send, but its output to the master is silent: so is its stem.
    for name in ("kick", "snare", "vocal", "guitar", "drums", "music"):
        assert not np.any(stems[name]), f"stem {name!r} holds sound that reaches no destination"
    assert np.any(stems["reverb"])
    np.testing.assert_allclose(stems["reverb"], mix, atol=1e-6)


def _automated(session: Session) -> Session:
    """Envelopes on a track's fader, a bus's fader and a send level: each stem follows its own."""
    from rackhost.chain.automation import Envelope, Point, SendTarget, StripTarget

    ride = (Point(0.0, 0.0), Point(0.05, -24.0), Point(0.1, -3.0))
    if any(t.name == "vocal" for t in session.tracks):
        vocal = session.track("vocal")
        vocal.automation.append(Envelope(StripTarget("gain_db"), ride))
        if vocal.sends:
            vocal.automation.append(Envelope(SendTarget(vocal.send("reverb")), (Point(0.0, -40.0), Point(0.1, 0.0))))
    if session.busses:
        session.bus("drums").automation.append(Envelope(StripTarget("gain_db"), ride[::-1]))
    return session


def test_stems_follow_the_envelopes_on_faders_and_sends(tmp_path):
    mix, stems = _stems(tmp_path, _automated(_routed(128, 9000)))
    _same_as_alone(stems["vocal"], render(_automated(_routed(128, 9000, keep={"vocal"}))).audio)
    plain = render(_routed(128, 9000, keep={"vocal"})).audio
    assert np.max(np.abs(stems["vocal"][:, : plain.shape[1]] - plain)) > 0.01, "the fader's envelope is not in the stem"
    _same_as_alone(stems["reverb"], render(_automated(_routed(128, 9000, solo="reverb"))).audio)
    np.testing.assert_allclose(stems["vocal"] + stems["guitar"] + stems["music"] + stems["reverb"], mix, atol=1e-6)


def test_a_stem_keeps_its_reverb_tail_where_a_quiet_master_has_already_ended(tmp_path):
    session = Session(block_size=256)
    session.add_track("hit", ArraySource(_noise(2, 2400, 5, level=0.5), SR),
                      Chain([Plugin.create("Reverb", room_size=0.9, wet_level=0.6)]))
    alone = render(session).audio  # the track on a unity master: its tail rings out to -90 dBFS
    session.master.gain_db = -40.0  # heard 40 dB down, the mix alone would end long before the stem's tail
    mix, stems = _stems(tmp_path, session)
    _same_as_alone(stems["hit"], alone)
    assert mix.shape[1] == stems["hit"].shape[1]


def test_a_render_to_a_loudness_target_writes_the_stems_of_its_last_pass(tmp_path):
    session = _plain_session(512, (48000, 30000, 40000), (0.2, -0.3))
    (tmp_path / "plain").mkdir()
    _, plain = _stems(tmp_path / "plain", session)
    session.master.chain.add("BrickwallLimiter", true_peak=True)
    session.master.loudness_target = LoudnessTarget(-12.0, -1.0)
    (tmp_path / "target").mkdir()
    mix, steered = _stems(tmp_path / "target", session)
    # Stems are taken before the master: the target's gain and limiter change the mix, not the stems.
    for name, stem in steered.items():
        assert stem.shape[1] == mix.shape[1]
        n = min(stem.shape[1], plain[name].shape[1])
        np.testing.assert_allclose(stem[:, :n], plain[name][:, :n], atol=1e-6)


def test_stems_are_written_in_the_mix_format_and_bit_depth(tmp_path):
    session = _plain_session(512, (9000, 9000, 9000), (0.0, 0.0))
    result = render_to_file(session, tmp_path / "mix.flac", bit_depth=16, stems=tmp_path / "new" / "stems")
    mix = sf.info(tmp_path / "mix.flac")
    for stem in result.stems:
        info = sf.info(stem.path)
        assert (stem.path.suffix, info.format, info.subtype, info.channels, info.frames, info.samplerate) == (
            ".flac", "FLAC", "PCM_16", 2, mix.frames, SR)
    assert not list((tmp_path / "new" / "stems").glob(".*")), "a temporary file was left behind"


def test_a_bounce_of_one_file_has_no_stems(tmp_path):
    session = Session(track_bounce=True)
    session.add_track("one", ArraySource(_noise(1, 1000, 1), SR))
    with pytest.raises(AudioFileError, match="render a session to write stems"):
        render_to_file(session, tmp_path / "out.wav", stems=tmp_path / "stems")


@pytest.mark.parametrize("where", ["a file", "inside a file"])
def test_an_unwritable_stems_folder_is_refused_before_rendering(tmp_path, where):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    folder = blocker if where == "a file" else blocker / "stems"
    with pytest.raises(AudioFileError, match="folder"):
        render_to_file(_plain_session(128, (100, 100, 100), (0.0, 0.0)), tmp_path / "mix.wav", stems=folder)
    assert not (tmp_path / "mix.wav").exists()


# -- file names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "file"), [
    ("Lead Vox", "Lead Vox"), ("drums/room: L+R?", "drums_room_ L+R_"), ("..hidden. ", "hidden"),
    ("CON", "_CON"), ("nul.take", "_nul.take"), ("a" * 300, "a" * 120), ("Gitarre (Ü)", "Gitarre (Ü)"),
])
def test_a_stem_file_name_is_safe_on_every_common_file_system(name, file):
    assert safe_file_name(name) == file


def test_stem_names_that_clash_are_told_apart():
    session = Session()
    for name in ("drums", "Drums", "a/b", "a_b", "..."):
        session.add_track(name, ArraySource(_noise(1, 10, 1), SR))
    session.add_bus("drums")
    names = [s.path.name for s in stem_files(session, "out", ".wav")]
    assert names == ["drums.wav", "Drums (2).wav", "a_b.wav", "a_b (2).wav", "track 5.wav", "drums (bus).wav"]
    assert len({n.lower() for n in names}) == len(names)


# -- the command --------------------------------------------------------------------------------------------


def rackhost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def routed_session_file(tmp_path) -> Path:
    for name, channels, seed in (("kick", 1, 1), ("vox", 2, 2)):
        sf.write(tmp_path / f"{name}.wav", _noise(channels, 24000, seed).T, SR, subtype="FLOAT")
    document = {
        "format_version": 4, "sample_rate": SR, "block_size": 256,
        "tracks": [
            {"name": "kick", "source": "kick.wav", "output": "drum bus",
             "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"}, "parameters": {"threshold_db": -20.0}}]},
            {"name": "vox", "source": "vox.wav", "gain_db": -3.0,
             "sends": [{"bus": "verb", "level_db": -8.0}]},
        ],
        "busses": [
            {"name": "drum bus", "chain": [{"plugin": {"format": "vst3", "name": "ZaMaximX2"}}]},
            {"name": "verb", "chain": [{"plugin": {"name": "Reverb"}, "parameters": {"wet_level": 1.0,
                                                                                    "dry_level": 0.0}}]},
        ],
        "master": {"gain_db": 0.0, "chain": []},
    }
    path = tmp_path / "song.json"
    path.write_text(json.dumps(document))
    return path


def test_render_stems_from_the_command_line(routed_session_file, tmp_path):
    out, folder = tmp_path / "mix.wav", tmp_path / "stems"
    run = rackhost("render", "--session", str(routed_session_file), "-o", str(out), "--stems", str(folder),
                   "--bit-depth", "32", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [(s["kind"], s["name"], Path(s["path"]).name) for s in report["stems"]] == [
        ("track", "kick", "kick.wav"), ("track", "vox", "vox.wav"), ("bus", "drum bus", "drum bus.wav"),
        ("bus", "verb", "verb.wav")]
    mix = sf.read(out, dtype="float32")[0]
    parts = {s["name"]: sf.read(s["path"], dtype="float32")[0] for s in report["stems"]}
    assert all(p.shape == mix.shape for p in parts.values())
    np.testing.assert_allclose(parts["vox"] + parts["drum bus"] + parts["verb"], mix, atol=1e-6)
    assert np.any(parts["kick"]) and np.any(parts["verb"])

    run = rackhost("render", "--session", str(routed_session_file), "-o", str(tmp_path / "mix2.wav"),
                   "--stems", str(folder))
    assert run.returncode == 0, run.stderr
    assert f"wrote stem of bus 'drum bus': {folder / 'drum bus.wav'}" in run.stdout
    assert sf.info(folder / "verb.wav").subtype == "PCM_24"


def test_stems_without_a_session_are_refused(tmp_path):
    source = tmp_path / "in.wav"
    sf.write(source, _noise(1, 1000, 1).T, SR)
    run = rackhost("render", str(source), "-o", str(tmp_path / "out.wav"), "--chain", "Gain",
                   "--stems", str(tmp_path / "stems"))
    assert run.returncode == 2
    assert "--stems" in run.stderr and "--session" in run.stderr
    assert not (tmp_path / "stems").exists() and not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("where", ["a file", "inside a file"])
def test_an_unwritable_stems_folder_is_refused_by_the_command(routed_session_file, tmp_path, where):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    folder = blocker if where == "a file" else blocker / "stems"
    run = rackhost("render", "--session", str(routed_session_file), "-o", str(tmp_path / "mix.wav"),
                   "--stems", str(folder))
    assert run.returncode == 2
    assert "--stems" in run.stderr and str(folder) in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "mix.wav").exists()


def test_a_stem_that_would_replace_a_track_source_is_refused(routed_session_file, tmp_path):
    run = rackhost("render", "--session", str(routed_session_file), "-o", str(tmp_path / "mix.wav"),
                   "--stems", str(tmp_path))  # the stem of track 'kick' would be kick.wav, the track's own audio
    assert run.returncode == 2
    assert "kick" in run.stderr and "another --stems folder" in run.stderr
    assert sf.info(tmp_path / "kick.wav").subtype == "FLOAT"
