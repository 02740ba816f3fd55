"""What the real window shows: strip meters against numpy, a dead engine's meters, the History list,
ZamCompX2's switches as checkboxes. The rack runs under Xvfb with the engine on a JACK server, in a
process of its own (Dear PyGui's viewport cannot be made twice in one process), clicked with xdotool.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SR
from rackhost.chain import Session
from rackhost.presets import save_session

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"  # kept, to be looked at
LEVELS = (0.5, 0.1)  # the two tracks' sine amplitudes: -6.02 and -20 dBFS
FREQUENCIES = (1000.0, 440.0)

WINDOW = r"""
import json, os, re, signal, subprocess, sys, time
import dearpygui.dearpygui as dpg
from gui_window import RealWindow

session_path, shots = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-meters")
app = real.app
out = {}


def until(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}: {app.engine_state} {app.messages[-3:]}")
        real.frames(1)
        time.sleep(0.01)


def readouts():
    return [dpg.get_value(view.readout) for view in (*app.strips, app.master)]


def history():
    return dpg.get_item_configuration(app.history_view.listbox)["items"]


app.restart_engine()
until(lambda: app.engine is not None and app.engine.alive, "the engine to start")
app.play()
until(lambda: app.engine.stats().get("position", 0) > 1.5 * 48000, "1.5 s of playback")
real.frames(3)
out["playing"] = readouts()
def lit(view):  # how many pixels of each of the strip's bars are lit (the cover hides the rest)
    return [view.meter.height - 1 - dpg.get_item_configuration(c)["pmax"][1] for c in view.meter.covers]


out["bars"] = lit(app.strips[0])
out["tooltip"] = dpg.get_value(app.strips[0].readout_tip)

# A mute (no structural edit) is a step in the History list at once, as the title's star is.
real.click(app.strips[1].mute)
out["title_after_mute"] = app.title
out["history_after_mute"] = history()

# ZamCompX2's on/off parameters are checkboxes; a real click turns the sidechain on.
real.click(app.strips[0].slot_buttons[0])
panel = next(p for p in app.panels if p.alive)
real.frames(6)
out["kinds"] = {name: dpg.get_item_type(item).split("::")[-1] for name, item in panel.controls.items()}
real.click(panel.controls["sidechain"])
real.click(panel.controls["stereo_detection"])
real.frames(4)
plugin = app.session.tracks[0].chain[0].plugin
out["sidechain"] = plugin.get("sidechain")
out["stereo_detection"] = plugin.get("stereo_detection")
out["history_after_switches"] = history()
out["steps_after_switches"] = app.session.history.labels()[0]
dpg.output_frame_buffer(file=os.path.join(shots, "meters-and-panel.png"))
real.frames(4)

# The engine process dies: the meters drop to -inf, they do not freeze at the last levels.
os.kill(app.engine.pid, signal.SIGKILL)
until(lambda: app.engine is None, "the window to notice the engine died")
real.frames(4)
out["after_death"] = readouts()
out["bars_after_death"] = [pixels for view in (*app.strips, app.master) for pixels in lit(view)]
dpg.output_frame_buffer(file=os.path.join(shots, "meters-engine-died.png"))
real.frames(4)
print(json.dumps(out))
real.close()
"""


def _sine(amplitude: float, frequency: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.vstack([tone, tone])


def _shown(readout: str) -> tuple[float, float]:
    """("pk  -6.0  rms  -9.0 dBFS") -> (-6.0, -9.0); -inf as such."""
    parts = readout.split()
    return float(parts[1]), float(parts[3])


def _db(x: float) -> float:
    return 20 * float(np.log10(x))


def test_the_window_shows_true_levels_a_dead_engine_as_silence_every_edit_in_history_and_switches_as_checkboxes(
        jack_server, tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    tones = [_sine(a, f) for a, f in zip(LEVELS, FREQUENCIES)]
    first = session.add_track("sine", wav_file(tones[0], "sine1k.wav"))
    first.chain.add("ZamCompX2", threshold_db=-10.0)
    first.chain.set_bypass(0, True)  # in the chain for its panel; the sine passes untouched
    session.add_track("quiet", wav_file(tones[1], "sine440.wav"))
    save_session(session, tmp_path / "meters.json")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "meters.json"), str(SCREENSHOTS)],
                         capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    # Each strip's peak (held 2 s) and RMS (300 ms) against numpy on what was played (the 24-bit files).
    import soundfile as sf

    played = [sf.read(tmp_path / name, dtype="float64", always_2d=True)[0].T for name in ("sine1k.wav", "sine440.wav")]
    master = played[0] + played[1]
    for signal, readout in zip([*played, master], out["playing"]):
        peak, rms = _shown(readout)
        stretch = signal[:, SR : 2 * SR]  # a second of the steady tones
        assert peak == pytest.approx(_db(np.abs(stretch).max()), abs=0.1), readout
        assert rms == pytest.approx(_db(np.sqrt(np.mean(stretch[0] ** 2))), abs=0.1), readout
    assert "300 ms" in out["tooltip"] and "-120" in out["tooltip"]

    assert out["title_after_mute"].endswith("*")
    assert out["history_after_mute"][-1] == "1. mute quiet"

    assert out["kinds"]["sidechain"] == out["kinds"]["stereo_detection"] == "mvCheckbox"
    assert out["kinds"]["threshold_db"] == "mvSliderFloat"
    assert out["sidechain"] == 1.0 and out["stereo_detection"] == 1.0  # both off by default: a click turns each on
    assert out["steps_after_switches"][-2:] == ["set ZamCompX2 sidechain", "set ZamCompX2 stereo_detection"]
    # The History column shows them numbered, cut with ".." to its width where they are longer.
    shown = out["history_after_switches"][-2:]
    assert shown[0] == "2. set ZamCompX2 s.." and "3. set ZamCompX2 stereo_detection".startswith(shown[1][:-2])

    assert out["after_death"] == ["pk  -inf  rms  -inf dBFS"] * 3
    assert all(pixels > 50 for pixels in out["bars"])
    assert not any(out["bars_after_death"])
