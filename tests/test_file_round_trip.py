"""Saving gives back what the user wrote: paths as written, values at the parameter's precision.

Paths: relative stay relative to the session file (a symlink is not resolved
into its target), absolute stay absolute. Values: float32 noise (-18.000002)
and pedalboard's steps (ratio 4 held as 4.002) are saved at the precision the
parameter has, so a hand-written value comes back as written, and a second
save is byte-identical to the first. The steps are read from pedalboard
directly, not through rackhost.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import mido
import numpy as np
import pedalboard
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import AudioFileSource
from rackhost.presets import load_session, save_session

VST3 = Path("/usr/lib/vst3")


def _write_wav(path: Path, seed: int) -> None:
    audio = np.random.default_rng(seed).uniform(-0.5, 0.5, (2400, 2)).astype(np.float32)
    sf.write(path, audio, 48000, subtype="FLOAT")


def _write_mid(path: Path) -> None:
    midi = mido.MidiFile()
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track += [mido.Message("note_on", note=40, velocity=100, time=0), mido.Message("note_off", note=40, time=240)]
    midi.save(path)


@pytest.fixture
def project(tmp_path):
    """samples/ holds the files; proj/audio is a symlink to ../samples, as a user links a sample library."""
    samples = tmp_path / "samples"
    samples.mkdir()
    for i, name in enumerate(("kick.wav", "snare.wav", "hat.wav")):
        _write_wav(samples / name, i)
    _write_mid(samples / "bass.mid")
    proj = tmp_path / "proj"
    proj.mkdir()
    os.symlink("../samples", proj / "audio")
    return tmp_path


def _sources(doc: dict) -> list:
    return [t.get("source") for t in doc["tracks"]] + [t.get("midi_file") for t in doc["tracks"]]


def test_paths_are_saved_as_written_through_symlinks_and_absolute_ones_stay_absolute(project):
    snare = str(project / "samples" / "snare.wav")
    written = {
        "format_version": 3,
        "tracks": [
            {"name": "kick", "source": "audio/kick.wav"},
            {"name": "snare", "source": snare},
            {"name": "hat", "source": "../samples/hat.wav"},
            {"name": "bass", "instrument": {"plugin": {"format": "vst3", "name": "Nekobi"}},
             "midi_file": "audio/bass.mid"},
        ],
    }
    path = project / "proj" / "mix.json"
    path.write_text(json.dumps(written))
    session = load_session(path)
    save_session(session, path)
    saved = json.loads(path.read_text())
    assert _sources(saved) == _sources({"tracks": [dict(t, source=t.get("source"), midi_file=t.get("midi_file"))
                                                   for t in written["tracks"]]})

    # A source added in the window, inside the project: relative, through the link as given.
    session.tracks[2].source = AudioFileSource(project / "proj" / "audio" / "hat.wav")
    save_session(session, path)
    assert json.loads(path.read_text())["tracks"][2]["source"] == "audio/hat.wav"

    # Saved into another folder: relative paths now start there and name the same files; absolute ones are kept.
    elsewhere = project / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    save_session(load_session(path), elsewhere / "mix.json")
    moved = json.loads((elsewhere / "mix.json").read_text())
    assert moved["tracks"][1]["source"] == snare
    for ref, original in ((moved["tracks"][0]["source"], "kick.wav"), (moved["tracks"][2]["source"], "hat.wav"),
                          (moved["tracks"][3]["midi_file"], "bass.mid")):
        assert not os.path.isabs(ref)
        assert os.path.samefile(elsewhere / ref, project / "samples" / original)
    assert len(load_session(elsewhere / "mix.json").tracks) == 4


# -- values -------------------------------------------------------------------------------------

def _vst3_steps(name: str) -> dict[str, list[float]]:
    """Each float control's steps, from pedalboard itself (the values it can set)."""
    plugin = pedalboard.load_plugin(str(VST3 / f"{name}.vst3"))
    out = {}
    for pname, param in plugin.parameters.items():
        if param.type is float and pname in ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db",
                                             "makeup_db", "slew"):
            out[pname] = sorted(float(v) for v in param.valid_values)
    return out


def _decimals(steps: list[float]) -> int:
    gap = min(b - a for a, b in zip(steps, steps[1:]) if b > a)
    return max(0, math.floor(-math.log10(gap)) + 1)  # half a step is more than half the last digit


STEPS = {name: _vst3_steps(name) for name in ("ZamCompX2", "ZamComp")}
# pedalboard's Compressor holds single-precision floats; these are within its ranges.
COMPRESSOR = {"threshold_db": (-60.0, 0.0), "ratio": (1.0, 20.0), "attack_ms": (0.1, 100.0),
              "release_ms": (1.0, 1000.0)}


@st.composite
def vst3_values(draw: st.DrawFn, name: str) -> tuple[dict, dict]:
    """(values at the parameter's precision, values typed with more digits than its steps resolve)."""
    exact, typed = {}, {}
    for pname, steps in STEPS[name].items():
        step = draw(st.sampled_from(steps))
        exact[pname] = round(step, _decimals(steps)) + 0.0
        typed[pname] = draw(st.floats(steps[0], steps[-1], allow_nan=False, allow_subnormal=False))
    return exact, typed


def _session_doc(plugin: dict, values: dict) -> dict:
    return {"format_version": 3, "sample_rate": 48000, "block_size": 256,
            "tracks": [{"name": "t", "chain": [{"plugin": plugin, "parameters": values}]}]}


def _load_and_save(tmp: Path, doc: dict) -> tuple[dict, bytes]:
    path = tmp / "hand.json"
    path.write_text(json.dumps(doc, indent=2))
    save_session(load_session(path), path)
    first = path.read_bytes()
    save_session(load_session(path), path)
    assert path.read_bytes() == first  # the second save changes nothing: values and state are at a fixed point
    return json.loads(first)["tracks"][0]["chain"][0]["parameters"], first


SWEEP = settings(max_examples=15, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", ["ZamCompX2", "ZamComp"])
@SWEEP
@given(data=st.data())
def test_a_vst3s_values_come_back_as_written_at_the_precision_of_its_steps(tmp_path, name, data):
    exact, typed = data.draw(vst3_values(name))
    saved, _ = _load_and_save(tmp_path, _session_doc({"format": "vst3", "name": name}, exact))
    assert {k: saved[k] for k in exact} == exact

    saved, _ = _load_and_save(tmp_path, _session_doc({"format": "vst3", "name": name}, typed))
    for pname, value in typed.items():
        steps = STEPS[name][pname]
        digits = _decimals(steps)
        gap = max(b - a for a, b in zip(steps, steps[1:]))
        assert saved[pname] == round(saved[pname], digits), (pname, saved[pname])  # no float noise
        assert abs(saved[pname] - value) <= gap, (pname, value, saved[pname])  # on the step it was set to


@SWEEP
@given(values=st.fixed_dictionaries({
    k: st.integers(round(lo * 1000), round(hi * 1000)).map(lambda n: n / 1000) for k, (lo, hi) in COMPRESSOR.items()
}))
def test_a_builtins_values_come_back_exactly_as_typed(tmp_path, values):
    saved, _ = _load_and_save(tmp_path, _session_doc({"format": "builtin", "name": "Compressor"}, values))
    assert saved == values
    held = pedalboard.Compressor(**values)  # what pedalboard holds: single precision, noisy when printed
    assert all(float(getattr(held, k)) == float(np.float32(v)) for k, v in values.items())


def test_the_parameter_panel_shows_values_at_the_precision_they_are_saved_with(tmp_path):
    import dearpygui.dearpygui as dpg

    from rackhost.gui.app import RackApp

    doc = {"format_version": 3, "tracks": [{"name": "t", "chain": [
        {"plugin": {"format": "vst3", "name": "ZamCompX2"},
         "parameters": {"threshold_db": -18.0, "ratio": 4.0, "knee_db": 2.5, "attack_ms": 12.3}},
        {"plugin": {"format": "builtin", "name": "Compressor"},
         "parameters": {"threshold_db": -18.3, "ratio": 4.3, "attack_ms": 1.7}}]}]}
    path = tmp_path / "panel.json"
    path.write_text(json.dumps(doc))
    app = RackApp(load_session(path), path, start_engine=False)
    dpg.create_context()
    try:
        app.build()
        save_session(app.session, path)
        saved = json.loads(path.read_text())["tracks"][0]["chain"]
        for index in (0, 1):
            panel = app.open_panel(0, index)
            plugin = app.session.tracks[0].chain[index].plugin
            for pname, value in saved[index]["parameters"].items():
                info = plugin.parameters[pname]
                if info.type != "float" or info.selector or pname not in panel.controls:  # sliders only
                    continue
                shown = dpg.get_item_configuration(panel.controls[pname])["format"] % plugin.get(pname)
                assert float(shown.split()[0]) == value, (pname, shown, value)
            panel.close()
    finally:
        app.close()
        dpg.destroy_context()
