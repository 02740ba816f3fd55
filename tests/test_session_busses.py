"""Session format v4: busses, outputs and sends saved and read back; a v3 session opens and renders as before;
unknown keys and broken routing refused with the place in the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rackhost.chain import Chain, Plugin, Session, render
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.session_file import FORMAT_VERSION, SessionFileError

SR = 48000

# The render of v3_session() by rackhost before busses existed (main at 246abf0), float32 bytes.
V3_RENDER_SHA256 = "124ba93583c805a8c8d3a22360c637932074bd22d45726603dee250364db9714"


def v3_session(folder: Path) -> Path:
    """A version 3 session with generated audio: a mono and a stereo track with chains, a master limiter."""
    rng = np.random.default_rng(16)
    t = np.arange(SR // 2) / SR
    sf.write(folder / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR, subtype="FLOAT")
    sf.write(folder / "noise.wav", (0.1 * rng.standard_normal((SR // 3, 2))).astype(np.float32), SR,
             subtype="FLOAT")
    doc = {
        "format_version": 3, "sample_rate": SR, "block_size": 256,
        "tracks": [
            {"name": "tone", "source": "tone.wav", "gain_db": -3.0, "pan": -0.4,
             "chain": [{"plugin": {"name": "Compressor"}, "parameters": {"threshold_db": -20.0, "ratio": 4.0}},
                       {"plugin": {"name": "Reverb"}, "parameters": {"room_size": 0.5}, "mix": 0.3}]},
            {"name": "noise", "source": "noise.wav", "pan": 0.2, "solo": False,
             "chain": [{"plugin": {"name": "LowpassFilter"}, "parameters": {"cutoff_frequency_hz": 2000.0}}]},
        ],
        "master": {"gain_db": -1.0, "chain": [{"plugin": {"name": "Limiter"}, "parameters": {"threshold_db": -6.0}}]},
    }
    path = folder / "v3.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_version_3_session_opens_with_its_tracks_on_the_master_and_renders_bit_identical_to_before(tmp_path):
    session = load_session(v3_session(tmp_path))
    assert session.busses == [] and all(t.output is None and t.sends == [] for t in session.tracks)
    audio = render(session, tail=False).audio
    assert hashlib.sha256(np.ascontiguousarray(audio, np.float32).tobytes()).hexdigest() == V3_RENDER_SHA256
    save_session(session, tmp_path / "v4.json")
    assert json.loads((tmp_path / "v4.json").read_text())["format_version"] == FORMAT_VERSION >= 4


def _routed(folder: Path) -> Session:
    rng = np.random.default_rng(4)
    for name in ("kick", "vocal"):
        sf.write(folder / f"{name}.wav", (0.1 * rng.standard_normal((SR // 4, 2))).astype(np.float32), SR,
                 subtype="FLOAT")
    session = Session(block_size=128)
    session.add_track("kick", folder / "kick.wav", output="drums")
    vocal = session.add_track("vocal", folder / "vocal.wav", Chain([Plugin.create("BrickwallLimiter")]))
    vocal.add_send("reverb", -12.0)
    vocal.add_send("drums", float("-inf"), pre_fader=True, muted=True)
    drums = session.add_bus("drums", Chain([Plugin.create("Compressor", threshold_db=-24.0)]), gain_db=-2.0,
                            pan=0.25, output="music")
    drums.add_send("reverb", -9.0, pre_fader=True)
    session.add_bus("music", mute=False, solo=False)
    reverb = session.add_bus("reverb", Chain([Plugin.create("Reverb", room_size=0.7)]))
    reverb.ab.other = Chain([Plugin.create("Gain", gain_db=-6.0)])
    return session


def test_busses_outputs_and_sends_round_trip_and_render_the_same(tmp_path):
    session = _routed(tmp_path)
    first = render(session, tail=False).audio
    save_session(session, tmp_path / "routed.json")
    loaded = load_session(tmp_path / "routed.json")
    assert [b.name for b in loaded.busses] == ["drums", "music", "reverb"]
    assert loaded.track("kick").output == "drums" and loaded.bus("drums").output == "music"
    silent = loaded.track("vocal").send("drums")
    assert silent.level_db == float("-inf") and silent.pre_fader and silent.muted
    assert loaded.bus("drums").send("reverb").level_db == -9.0 and loaded.bus("drums").pan == 0.25
    assert loaded.bus("reverb").ab.other is not None
    assert session_to_dict(loaded, tmp_path) == session_to_dict(session, tmp_path)
    np.testing.assert_array_equal(render(loaded, tail=False).audio, first)


@pytest.mark.parametrize("change, where, message", [
    (lambda d: d["tracks"][1]["sends"][0].update(level=-3), "tracks[1].sends[0].level",
     "unknown key 'level' (did you mean 'level_db'?)"),
    (lambda d: d["busses"][0].update(gain=1.0), "busses[0].gain", "unknown key 'gain'"),
    (lambda d: d["busses"][0]["sends"][0].pop("bus"), "busses[0].sends[0].bus", "missing key 'bus'"),
    (lambda d: d["busses"][1].pop("name"), "busses[1].name", "missing key 'name'"),
    (lambda d: d["tracks"][0].update(output="drum"), "tracks[0].output",
     "track 'kick' is routed to bus 'drum', which does not exist"),
    (lambda d: d["busses"][0]["sends"][0].update(bus="verb"), "busses[0].sends[0].bus",
     "bus 'drums' sends to bus 'verb', which does not exist"),
    (lambda d: d["busses"][1].update(output="drums"), "busses", "routing loop: drums -> music -> drums"),
    (lambda d: d["tracks"][1]["sends"][0].update(level_db="loud"), "tracks[1].sends[0].level_db",
     "expected a number"),
    (lambda d: d["tracks"][1]["sends"].append({"bus": "reverb"}), "tracks[1].sends[2]", "sends to 'reverb' already"),
    (lambda d: d["busses"].append({"name": "music"}), "busses[3]", "a bus named 'music' already exists"),
])
def test_a_bad_bus_or_send_is_refused_with_its_place_in_the_file(tmp_path, change, where, message):
    save_session(_routed(tmp_path), tmp_path / "routed.json")
    doc = json.loads((tmp_path / "routed.json").read_text())
    change(doc)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(SessionFileError) as caught:
        load_session(tmp_path / "bad.json")
    assert caught.value.where == where and message in str(caught.value), str(caught.value)


def test_a_bus_preset_keeps_the_chain_fader_and_pan_and_loads_onto_another_bus_as_one_step(tmp_path):
    from rackhost.presets.apply import apply_preset, preset_from
    from rackhost.presets.preset_file import read_preset, write_preset

    session = _routed(tmp_path)
    write_preset(preset_from("drum glue", "mixing", session.bus("drums")), tmp_path / "glue.json")
    preset = read_preset(tmp_path / "glue.json")
    assert preset.kind == "bus" and json.loads((tmp_path / "glue.json").read_text())["kind"] == "bus"
    music = session.bus("music")
    steps = len(session.history.labels()[0])
    apply_preset(preset, session, music)
    assert [s.name for s in music.chain] == ["Compressor"] and music.chain[0].plugin.get("threshold_db") == -24.0
    assert (music.gain_db, music.pan, music.output) == (-2.0, 0.25, None)  # where it goes stays the session's
    assert len(session.history.labels()[0]) == steps + 1
    session.undo()
    assert len(music.chain) == 0 and (music.gain_db, music.pan) == (0.0, 0.0)
