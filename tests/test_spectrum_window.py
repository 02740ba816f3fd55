"""The spectrum view in the real window under Xvfb, on a routed session playing through a real JACK engine:
opened by a real right-click on a strip's readout, its data peaking at the track's tone, the chain's estimated
gain reduction shown, the engine's tap moved to the master and gone once the view is closed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, program_signal
from png_pixels import read_png

from rackhost.chain import Session
from rackhost.presets import save_session

TONE_HZ = 1000.0
# Where the screenshot goes: a folder of one's own (the README's picture is copied from it by hand).
SHOTS = Path(os.environ.get("RACKHOST_SPECTRUM_SHOTS", "")) if os.environ.get("RACKHOST_SPECTRUM_SHOTS") else None

WINDOW = r"""
import json, subprocess, sys, time
import dearpygui.dearpygui as dpg
from gui_window import RealWindow

session_path, shot = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-spectrum", width=1920, height=1080)
app = real.app
out = {}


def until(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}: {app.engine_state} {app.messages[-3:]}")
        real.frames(1)
        time.sleep(0.01)


app.restart_engine()
until(lambda: app.engine is not None and app.engine.alive, "the engine to start")
out["before"] = app.engine.spectrum_frames() is None
app.play()
until(lambda: app.engine.stats().get("position", 0) > 0.5 * 48000, "0.5 s of playback")
readout = app.strips[0].readout  # a real right-click on the tone track's level readout opens the view on it
x, y = dpg.get_item_rect_min(readout)
w, h = dpg.get_item_rect_size(readout)
subprocess.run(["xdotool", "mousemove", "--window", real.window, str(int(x + w / 2)), str(int(y + h / 2)),
                "click", "3"], check=True)
until(lambda: app.spectrum is not None, "the spectrum view to open")
subprocess.run(["xdotool", "mousemove", "--window", real.window, "900", "900"], check=True)  # no tooltip in the shot
view = app.spectrum
dpg.set_item_pos(view.window, [420, 150])
dpg.configure_item(view.window, width=1100, height=620)
until(lambda: "post" in view.curves and app.engine.stats()["position"] > 2.0 * 48000, "the view's first curves")
real.frames(20)
post = view.curves["post"]
out["strip"] = view.strip
out["post_peak_hz"] = float(post.frequencies_hz[int(post.level_db.argmax())])
out["pre_peak_hz"] = float(view.curves["pre"].frequencies_hz[int(view.curves["pre"].level_db.argmax())])
out["hold_at_least_post"] = bool((view.held_db >= post.level_db).all())
out["readout"] = dpg.get_value(view.readout)
out["gain_reduction"] = view.gain_reduction_db
until(lambda: view.reductions, "the slots' gain reduction")
real.frames(2)
out["slot_label"] = dpg.get_item_label(app.strips[0].slot_buttons[0])
out["slot_tip"] = dpg.get_value(app.strips[0].slot_tips[0][1])
out["slots_line"] = dpg.get_value(view.slots_text)
out["slot_reductions"] = [[list(r.slots), r.db, r.reported] for r in view.reductions]
out["plot"] = [*dpg.get_item_rect_min(view.plot), *dpg.get_item_rect_size(view.plot)]
dpg.output_frame_buffer(file=shot)
real.frames(4)

from rackhost.live.commands import BusRow
app.open_spectrum(BusRow(0))  # the music bus: its Compressor's estimate moves to the bus strip's slot
until(lambda: (app.engine.spectrum_frames() or (0,))[0] == BusRow(0) and view.reductions, "the bus's curves")
real.frames(2)
out["bus_choice"] = dpg.get_value(view.choice)
out["bus_slot_label"] = dpg.get_item_label(app.bus_strips[0].slot_buttons[0])
out["lead_slot_label_bus_watched"] = dpg.get_item_label(app.strips[0].slot_buttons[0])
app.open_spectrum(None)  # the View menu's way: the master
until(lambda: (app.engine.spectrum_frames() or (0,))[0] is None and "post" in view.curves, "the master's curves")
out["master_choice"] = dpg.get_value(view.choice)
real.frames(2)
out["slot_label_unwatched"] = dpg.get_item_label(app.strips[0].slot_buttons[0])
view.close()
until(lambda: app.engine.spectrum_frames() is None, "the engine to drop its tap")
out["after_close"] = True
app.stop()
real.frames(2)
app.close()
print(json.dumps(out))
real.close()
"""


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = (0.8 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.vstack([tone, tone])


def test_the_window_shows_a_tracks_spectrum_with_its_tone_and_the_chains_estimated_gain_reduction(
        jack_server, tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    lead = session.add_track("lead", wav_file(_tone(30.0), "tone.wav"), output="music")
    lead.chain.add("Compressor", threshold_db=-30.0, ratio=8.0, attack_ms=1.0, release_ms=50.0)
    lead.chain.add("HighpassFilter", cutoff_frequency_hz=80.0)
    session.add_track("drums", wav_file(program_signal(2, 30.0), "drums.wav"), output="music", gain_db=-6.0)
    session.add_bus("music", gain_db=-3.0).chain.add("Compressor", threshold_db=-18.0, ratio=3.0)
    session.master.chain.add("Limiter", threshold_db=-1.0)
    save_session(session, tmp_path / "spectrum.json")
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "spectrum.png"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "spectrum.json"), str(shot)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["before"] and out["strip"] == 0
    assert out["post_peak_hz"] == pytest.approx(TONE_HZ, rel=0.06) and out["pre_peak_hz"] == pytest.approx(TONE_HZ,
                                                                                                            rel=0.06)
    assert out["hold_at_least_post"]
    assert out["gain_reduction"] > 10.0 and out["readout"] == f"chain GR ~{out['gain_reduction']:.1f} dB est."
    assert out["master_choice"] == "master" and out["after_close"]
    # Compressor and HighpassFilter run as one pedalboard stage: one estimate for both, on the first slot's name.
    [[slots, reduction, reported]] = out["slot_reductions"]
    assert slots == [0, 1] and not reported and reduction > 10.0
    assert out["slot_label"] == f"Compressor ~{reduction:.0f}"
    assert f"GR ~{reduction:.1f} dB est." in out["slot_tip"] and "together" in out["slot_tip"]
    assert out["slots_line"] == f"Compressor + HighpassFilter: GR ~{reduction:.1f} dB est."
    assert out["slot_label_unwatched"] == "Compressor"
    assert out["bus_choice"] == "bus: music" and out["bus_slot_label"].startswith("Compressor ~")
    assert out["lead_slot_label_bus_watched"] == "Compressor"
    assert shot.stat().st_size > 10_000
    # The peak hold shows in the picture: a steady tone's hold lies on the live curve, where a line of its own was
    # hidden under the blue one; its tint (the hold colour over the plot's dark ground) covers the area under it.
    x, y, w, h = (int(v) for v in out["plot"])
    plot = read_png(shot)[y : y + h, x : x + w, :3].astype(int)
    r, g, b = plot[..., 0], plot[..., 1], plot[..., 2]
    tint = (r - b > 25) & (r > 60) & (g > b)
    tint[:90, :220] = False  # the legend's swatch
    assert tint.sum() > 2000, f"{tint.sum()} pixels of the peak hold's colour in the plot"
