"""Keys in the mix graph: a keyed slot on a bus or the master hears a track or bus, offline.

A real ZamCompX2 (its minihost twin: the rebuilt VST3 or the LV2 build) ducks a
music bus under a voice. Runs in its own pytest process (Makefile): it hosts
minihost beside pedalboard.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SR
from rackhost.chain import ArraySource, AudioFileSource, Chain, Plugin, Session, render
from rackhost.chain.sidechain import NotKeyableError, twin_of
from rackhost.errors import RoutingLoopError, UnknownKeySourceError
from rackhost.presets import load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION, SessionFileError

BLOCK = 256
DUCK = {"threshold_db": -40.0, "ratio": 10.0, "attack_ms": 1.0, "release_ms": 50.0, "knee_db": 0.0}


def _music(seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.03 * rng.standard_normal((2, int(SR * seconds)))).astype(np.float32)  # about -30 dBFS: above threshold


def _voice(seconds: float = 1.0, start: float = 0.25, end: float = 0.5) -> np.ndarray:
    voice = np.zeros((1, int(SR * seconds)), np.float32)
    t = np.arange(int(SR * (end - start))) / SR
    voice[0, int(SR * start):int(SR * end)] = 0.5 * np.sin(2 * np.pi * 220 * t)
    return voice


def ducking_session(voice: np.ndarray | None = None, pre_fader: bool = False, block: int = BLOCK) -> Session:
    """Music through a bus with ZamCompX2 keyed from the voice track; the voice goes to a muted bus, so the
    master is the (ducked) music alone."""
    session = Session(sample_rate=SR, block_size=block)
    session.add_track("music", ArraySource(_music(), SR), output="music bus")
    session.add_track("voice", ArraySource(_voice() if voice is None else voice, SR), output="vox")
    session.add_bus("music bus", Chain([Plugin.create("ZamCompX2", **DUCK)]))
    session.add_bus("vox", mute=True)
    session.edit.set_key(session, session.bus("music bus").chain[0], "voice", pre_fader=pre_fader)
    return session


def _level_db(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[:, int(SR * start):int(SR * end)].astype(np.float64)
    return 10 * np.log10(np.mean(part ** 2))


def test_a_keyed_bus_ducks_the_music_while_the_voice_plays_and_not_before():
    out = render(ducking_session(), tail=False).audio
    music = _music()
    np.testing.assert_array_equal(out[:, : int(SR * 0.25)], music[:, : int(SR * 0.25)])  # untouched before the voice
    ducked = _level_db(out, 0.3, 0.5) - _level_db(music, 0.3, 0.5)
    assert ducked < -20  # the voice at -6 dBFS is 34 dB over threshold: ~30 dB down at ratio 10
    assert _level_db(out, 0.9, 1.0) - _level_db(music, 0.9, 1.0) > -0.5  # released after the voice


def test_a_silent_key_leaves_music_above_threshold_untouched_so_the_detector_hears_the_key_not_the_music():
    out = render(ducking_session(voice=np.zeros((1, SR), np.float32)), tail=False).audio
    np.testing.assert_array_equal(out, _music())
    session = ducking_session()
    session.edit.set_key(session, session.bus("music bus").chain[0], None)  # no key: ZamCompX2 hears the music
    assert _level_db(render(session, tail=False).audio, 0.0, 0.2) < _level_db(_music(), 0.0, 0.2) - 3


@pytest.mark.parametrize("pre_fader", [False, True])
def test_a_muted_voice_gives_a_silent_key_before_or_after_its_fader(pre_fader):
    session = ducking_session(pre_fader=pre_fader)
    session.track("voice").mute = True
    np.testing.assert_array_equal(render(session, tail=False).audio, _music())


def test_with_the_voice_fader_down_only_a_pre_fader_key_still_ducks():
    post = ducking_session(pre_fader=False)
    post.track("voice").gain_db = -150.0
    np.testing.assert_array_equal(render(post, tail=False).audio, _music())
    pre = ducking_session(pre_fader=True)
    pre.track("voice").gain_db = -150.0
    ducked = render(pre, tail=False).audio
    np.testing.assert_array_equal(ducked, render(ducking_session(pre_fader=True), tail=False).audio)
    assert _level_db(ducked, 0.3, 0.5) - _level_db(_music(), 0.3, 0.5) < -20


def test_a_post_fader_key_follows_the_voice_fader():
    louder = render(ducking_session(), tail=False).audio
    session = ducking_session()
    session.track("voice").gain_db = -20.0  # the key 20 dB lower: about 18 dB less reduction at ratio 10
    softer = render(session, tail=False).audio
    assert _level_db(softer, 0.3, 0.5) - _level_db(louder, 0.3, 0.5) == pytest.approx(18, abs=1.5)


def test_soloing_the_music_bus_keeps_it_ducked():
    session = ducking_session()
    session.bus("music bus").solo = True
    np.testing.assert_array_equal(render(session, tail=False).audio, render(ducking_session(), tail=False).audio)


def test_a_key_from_a_bus_runs_that_bus_first_and_ducks_from_its_output():
    session = ducking_session()
    # A bus later in the session than the keyed one: the graph runs it first all the same.
    session.add_bus("voice sub", output="vox", gain_db=-150.0)
    session.track("voice").output = "voice sub"
    slot = session.bus("music bus").chain[0]
    session.edit.set_key(session, slot, "voice sub", pre_fader=True)
    graph = session.graph()
    assert [graph.strips[n].name for n in graph.order].index("voice sub") < \
        [graph.strips[n].name for n in graph.order].index("music bus")
    np.testing.assert_array_equal(render(session, tail=False).audio, render(ducking_session(), tail=False).audio)
    session.edit.set_key(session, slot, "voice sub", pre_fader=False)  # after its fader at -150 dB: silence
    np.testing.assert_array_equal(render(session, tail=False).audio, _music())


def test_a_keyed_slot_on_the_master_ducks_the_whole_mix():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("music", ArraySource(_music(), SR))
    session.add_track("voice", ArraySource(_voice(), SR), gain_db=-150.0)
    session.master.chain.add(Plugin.create("ZamCompX2", **DUCK))
    session.edit.set_key(session, session.master.chain[0], "voice", pre_fader=True)
    out = render(session, tail=False).audio
    assert _level_db(out, 0.3, 0.5) - _level_db(_music(), 0.3, 0.5) < -20
    np.testing.assert_array_equal(out[:, : SR // 4], _music()[:, : SR // 4])


# -- alignment ---------------------------------------------------------------------------------------------


def _first_change(out: np.ndarray, settled: int = 2000) -> int:
    """The first sample after ``settled`` (latent plug-ins have started by then) that differs from the steady
    level there."""
    changed = np.abs(out[0, settled:] - out[0, settled]) > 1e-7
    return settled + int(np.flatnonzero(changed)[0])


@pytest.mark.parametrize("case", ["key later than the main", "main later than the key", "key from a latent bus"])
def test_an_impulse_key_reaches_the_detector_on_the_sample_the_main_signal_does(case):
    # The music is a steady level below threshold; the key one click at t0. The first output sample the
    # compressor changes is where the detector heard the click, in the main signal's time: exactly t0.
    # A click on a third track straight to the master must land on t0 as well (downstream stays aligned).
    n, t0 = SR // 2, 6000
    steady = 0.01
    click = np.zeros((1, n), np.float32)
    click[0, t0] = 0.25
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("music", ArraySource(np.full((2, n), steady, np.float32), SR), output="music bus")
    voice = session.add_track("voice", ArraySource(click, SR), output="vox")
    session.add_track("click", ArraySource(click, SR), gain_db=-150.0)
    music_bus = session.add_bus("music bus")
    session.add_bus("vox", mute=True)
    if case == "key later than the main":
        voice.chain.add("ZaMaximX2", threshold_db=0.0)  # 480 samples of look-ahead on the key's path
    elif case == "main later than the key":
        session.track("music").chain.add("ZaMaximX2", threshold_db=0.0)
    else:
        session.add_bus("voice sub", Chain([Plugin.create("ZaMaximX2", threshold_db=0.0)]), output="vox")
        voice.output = "voice sub"
    music_bus.chain.add(Plugin.create("ZamCompX2", **DUCK))
    session.edit.set_key(session, music_bus.chain[-1], "voice sub" if case == "key from a latent bus" else "voice",
                         pre_fader=True)
    out = render(session, tail=False).audio
    assert session.snapshot().latency == 480
    assert out[0, 2000] == pytest.approx(steady, rel=1e-3)
    assert _first_change(out) == t0
    session.track("click").gain_db = 0.0
    session.bus("music bus").mute = True
    heard = render(session, tail=False).audio
    assert int(np.argmax(np.abs(heard[0]))) == t0


def test_a_latent_slot_before_the_keyed_one_on_the_bus_delays_the_key_as_much():
    n, t0 = SR // 2, 6000
    steady = 0.01
    click = np.zeros((1, n), np.float32)
    click[0, t0] = 0.25
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("music", ArraySource(np.full((2, n), steady, np.float32), SR), output="music bus")
    session.add_track("voice", ArraySource(click, SR), output="vox")
    session.add_bus("vox", mute=True)
    bus = session.add_bus("music bus", Chain([Plugin.create("ZaMaximX2", threshold_db=0.0),
                                              Plugin.create("ZamCompX2", **DUCK)]))
    session.edit.set_key(session, bus.chain[1], "voice", pre_fader=True)
    snap = session.snapshot()
    (tap,) = snap.router.track_keys
    assert tap.delay is not None and tap.delay.delay == 480  # the main reaches slot 2 480 samples late
    assert _first_change(render(session, tail=False).audio) == t0


# -- refusals ----------------------------------------------------------------------------------------------


def test_a_plugin_without_a_key_input_is_refused_naming_those_that_take_one():
    session = ducking_session()
    reverb = session.bus("vox").chain.add(Plugin.create("Reverb"))
    with pytest.raises(NotKeyableError, match=r"Reverb cannot take a key.*ZamCompX2"):
        session.edit.set_key(session, reverb, "voice")
    mverb = session.bus("vox").chain.add(Plugin.create("MVerb"))
    with pytest.raises(NotKeyableError, match=r"MVerb cannot take a key.*ZamGateX2"):
        session.edit.set_key(session, mverb, "voice")
    mono = session.bus("vox").chain.add(Plugin.create("ZamComp"))  # has a key input, but a mono main
    with pytest.raises(NotKeyableError, match=r"ZamComp cannot take a key \(.*stereo; use ZamCompX2 or ZamGateX2"):
        session.edit.set_key(session, mono, "voice")
    assert reverb.key is None and mverb.key is None and mono.key is None


def test_a_key_that_closes_a_loop_is_refused_naming_the_loop():
    session = ducking_session()
    session.add_bus("fx", Chain([Plugin.create("ZamGateX2")]), output="music bus")
    with pytest.raises(RoutingLoopError, match=r"routing loop: music bus -\(key\)-> fx -> music bus; a bus cannot hear a key from itself"):
        session.edit.set_key(session, session.bus("fx").chain[0], "music bus")
    with pytest.raises(RoutingLoopError, match=r"music bus -\(key\)-> music bus"):
        session.edit.set_key(session, session.bus("music bus").chain[0], "music bus")
    assert session.bus("fx").chain[0].key is None and session.bus("music bus").chain[0].key.source == "voice"


def test_a_key_from_nowhere_is_refused_saying_what_to_do():
    session = ducking_session()
    with pytest.raises(UnknownKeySourceError, match=r"no track or bus is named 'vocals'.*'voice'"):
        session.edit.set_key(session, session.bus("music bus").chain[0], "vocals")


# -- undo, renames, files ----------------------------------------------------------------------------------


def test_setting_and_clearing_a_key_are_undo_steps():
    session = ducking_session()
    slot = session.bus("music bus").chain[0]
    session.edit.set_key(session, slot, "voice", pre_fader=True)
    session.edit.set_key(session, slot, None)
    assert slot.key is None
    session.undo()
    assert slot.key.source == "voice" and slot.key.pre_fader
    session.undo()
    assert slot.key.source == "voice" and not slot.key.pre_fader
    session.undo()  # the first set_key in ducking_session
    assert slot.key is None
    session.redo()
    assert slot.key.source == "voice"
    np.testing.assert_array_equal(render(session, tail=False).audio, render(ducking_session(), tail=False).audio)


def test_renaming_the_source_follows_the_key_and_removing_it_clears_the_key_in_one_undo_step():
    session = ducking_session()
    slot = session.bus("music bus").chain[0]
    session.edit.rename_track(session, session.track("voice"), "host")
    assert slot.key.source == "host"
    session.edit.remove_track(session, session.track("host"))
    assert slot.key is None
    session.undo()
    assert slot.key.source == "host" and session.track("host")
    session.undo()
    assert slot.key.source == "voice" and session.track("voice")


def test_a_session_with_keys_round_trips_through_its_file_and_renders_the_same(tmp_path):
    session = ducking_session(pre_fader=True)
    session.master.chain.add(Plugin.create("ZamGateX2", threshold_db=-60.0))
    session.edit.set_key(session, session.master.chain[0], "music bus")
    path = tmp_path / "duck.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION >= 7
    assert doc["busses"][0]["chain"][0]["key"] == {"source": "voice", "pre_fader": True}
    assert doc["master"]["chain"][0]["key"] == {"source": "music bus", "pre_fader": False}
    loaded = load_session(path)
    assert loaded.bus("music bus").chain[0].key.source == "voice" and loaded.bus("music bus").chain[0].key.pre_fader
    assert loaded.master.chain[0].key.source == "music bus"
    for s in (session, loaded):  # the files hold no audio paths for array sources: give them the same audio
        s.track("music").source = ArraySource(_music(), SR)
        s.track("voice").source = ArraySource(_voice(), SR)
    np.testing.assert_array_equal(render(loaded, tail=False).audio, render(session, tail=False).audio)


def test_a_version_4_session_opens_with_no_keys_and_saves_as_the_current_version(tmp_path):
    doc = {"format_version": 4, "sample_rate": SR, "block_size": BLOCK,
           "tracks": [{"name": "music", "output": "bus"}],
           "busses": [{"name": "bus", "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"}}]}]}
    path = tmp_path / "v4.json"
    path.write_text(json.dumps(doc))
    session = load_session(path)
    assert session.bus("bus").chain[0].key is None
    save_session(session, tmp_path / "v5.json")
    assert json.loads((tmp_path / "v5.json").read_text())["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize(("key", "where", "problem"), [
    ({"source": "voice", "prefader": True}, "busses[0].chain[0].key.prefader", "did you mean 'pre_fader'"),
    ({"pre_fader": True}, "busses[0].chain[0].key.source", "missing key 'source'"),
    ({"source": "vocals"}, "busses[0].chain[0].key.source", "no track or bus is named 'vocals'"),
    ({"source": 3}, "busses[0].chain[0].key.source", "expected text"),
])
def test_a_bad_key_in_a_file_is_refused_with_its_place(tmp_path, key, where, problem):
    doc = {"format_version": FORMAT_VERSION, "sample_rate": SR,
           "tracks": [{"name": "voice", "output": "bus"}],
           "busses": [{"name": "bus", "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"}, "key": key}]}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionFileError, match=f"at {re.escape(where)}: .*{re.escape(problem)}"):
        load_session(path)


def test_a_key_on_a_plugin_that_cannot_take_one_or_closing_a_loop_through_a_track_is_refused_in_a_file(tmp_path):
    compressor = {"format": "vst3", "name": "ZamCompX2"}
    for chain, owner, where in [([{"plugin": {"name": "Reverb"}, "key": {"source": "voice"}}], "busses",
                                 r"busses\[0\]\.chain\[0\]\.key: Reverb cannot take a key"),
                                ([{"plugin": compressor, "key": {"source": "bus"}}], "tracks",
                                 r"at tracks: routing loop: voice -> bus -\(key\)-> voice")]:
        doc = {"format_version": FORMAT_VERSION, "tracks": [{"name": "voice", "output": "bus"}],
               "busses": [{"name": "bus"}, {"name": "other"}]}
        doc[owner][0]["chain"] = chain
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(SessionFileError, match=where):
            load_session(path)


def test_the_twin_keeps_its_envelope_across_a_routing_edit():
    session = ducking_session()
    slot = session.bus("music bus").chain[0]
    session.snapshot()
    twin = twin_of(slot.plugin)
    session.add_bus("new")
    session.snapshot()
    assert twin_of(slot.plugin) is twin  # not reloaded: a tail or an envelope carries on
    session.reset()
    assert twin_of(slot.plugin) is None  # a render starts it afresh


# -- the command line and the window -----------------------------------------------------------------------


def _session_file(folder) -> Path:
    import soundfile as sf

    sf.write(folder / "music.wav", _music().T, SR, subtype="FLOAT")
    sf.write(folder / "voice.wav", _voice().T, SR, subtype="FLOAT")
    session = ducking_session()
    session.track("music").source = AudioFileSource(folder / "music.wav")
    session.track("voice").source = AudioFileSource(folder / "voice.wav")
    save_session(session, folder / "duck.json")
    return folder / "duck.json"


def test_rackhost_render_session_renders_the_keys(tmp_path):
    import soundfile as sf

    path = _session_file(tmp_path)
    run = subprocess.run([sys.executable, "-m", "rackhost.cli", "render", "--session", str(path), "-o",
                          str(tmp_path / "mix.wav"), "--no-tail", "--bit-depth", "32"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr == ""  # the keyed twins' loading and release say nothing to the user
    mix, rate = sf.read(tmp_path / "mix.wav", dtype="float32", always_2d=True)
    assert rate == SR
    np.testing.assert_array_equal(mix.T, render(ducking_session(), tail=False).audio)


def test_the_window_opens_a_session_with_a_key_without_an_engine(tmp_path):
    assert shutil.which("xvfb-run"), "make setup installs xvfb"
    shot = tmp_path / "keyed.png"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-m", "rackhost.cli",
                          "gui", str(_session_file(tmp_path)), "--no-engine", "--screenshot", str(shot)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.stat().st_size > 10_000


_SHARED_BUNDLE = """
import numpy as np
from rackhost.chain import Plugin, Session
from rackhost.chain.sidechain import NotKeyableError
session = Session()
bus = session.add_bus("fx")
slot = bus.chain.add(Plugin.create("MVerb"))
try:
    session.edit.set_key(session, slot, "fx")
except NotKeyableError as err:
    print("refused:", err)
again = Plugin.create("MVerb")  # pedalboard loads the bundle again
again.configure(2, 48000.0)
again.processor(48000.0, 512)(np.zeros((2, 512), np.float32))
print("loaded again")
"""


def test_asking_for_a_key_never_hosts_the_slots_own_bundle_in_minihost_so_pedalboard_can_load_it_again():
    # Two JUCE hosts sharing one bundle: when minihost released it, pedalboard's next load of it segfaulted.
    child = subprocess.run([sys.executable, "-c", _SHARED_BUNDLE], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr[-1500:]}"
    assert "refused: MVerb cannot take a key" in child.stdout and "loaded again" in child.stdout


def test_a_key_on_a_split_or_on_a_slot_inside_one_is_refused():
    from rackhost.chain import Branch, Split
    from rackhost.errors import KeyedSplitSlotError, SessionError

    session = ducking_session()
    inner = Chain([Plugin.create("ZamCompX2", **DUCK)])
    split = session.bus("music bus").chain.add(Split([Branch(inner), Branch()], name="par"))
    with pytest.raises(SessionError, match="split 'par' cannot take a key"):
        session.edit.set_key(session, split, "voice")
    with pytest.raises(KeyedSplitSlotError, match="bus 'music bus': ZamCompX2 inside a split has a key"):
        session.edit.set_key(session, inner[0], "voice")
    assert inner[0].key is None


def test_the_readme_voice_over_ducking_session_loads_and_ducks_the_music_under_the_voice(tmp_path):
    import soundfile as sf

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("A voice-over ducking session", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    sf.write(tmp_path / "music.wav", _music().T, SR, subtype="FLOAT")
    sf.write(tmp_path / "voice.wav", _voice().T, SR, subtype="FLOAT")
    (tmp_path / "ducking.json").write_text(example)
    session = load_session(tmp_path / "ducking.json")
    voice = session.track("voice")
    voice.mute = True  # a muted source keys nothing, even before its fader
    assert _level_db(render(session, tail=False).audio, 0.3, 0.5) == pytest.approx(_level_db(_music(), 0.3, 0.5),
                                                                                    abs=0.01)
    voice.mute = False
    voice.gain_db = -150.0  # its pre-fader key ducks though the voice is not heard
    out = render(session, tail=False).audio
    assert _level_db(out, 0.3, 0.5) - _level_db(_music(), 0.3, 0.5) < -20
    np.testing.assert_array_equal(out[:, : SR // 4], _music()[:, : SR // 4])


def test_an_envelope_on_a_keyed_slots_threshold_reaches_the_twin_so_the_ducking_stops_where_it_rises():
    from rackhost.chain.automation import Envelope, Point, SlotTarget

    session = ducking_session(voice=np.tile(_voice()[:, int(SR * 0.25):int(SR * 0.5)], (1, 4)))
    slot = session.bus("music bus").chain[0]
    # -40 dB until 0.5 s, then 0 dB, above the voice's peaks (-6 dBFS): no more ducking after 0.5 s.
    session.edit.add_envelope(session.bus("music bus"), Envelope(SlotTarget(slot, "threshold_db"),
                                                                 (Point(0.0, -40.0, "step"), Point(0.5, 0.0))))
    out = render(session, tail=False).audio
    music = _music()
    assert _level_db(out, 0.1, 0.45) - _level_db(music, 0.1, 0.45) < -20
    assert _level_db(out, 0.7, 0.95) - _level_db(music, 0.7, 0.95) > -0.5
