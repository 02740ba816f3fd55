"""A MIDI controller writing a touch pass, seen in the real window under Xvfb with a real JACK server and a real
JACK MIDI port: the lane lights "writing (touch)" and draws the value held, the fader's readout turns red and the
fader follows the controller, then the controller stands still, the pass glides back and comes into the window's
session as one undo step. A screenshot of the lane while it writes goes into the test's folder."""

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
from rackhost.chain.automation import Envelope, Point, StripTarget, check_envelope
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.gui.writing import WRITING
from rackhost.presets import save_session

CC = 32  # the controller's last position: -40 + 40 * 32 / 127 dB on the fader

WINDOW = r"""
import json, os, sys, time
import dearpygui.dearpygui as dpg
import jack
import mido
from gui_window import RealWindow

from rackhost.chain.automation import StripTarget, find
from rackhost.live.commands import Loop

session_path, shot, cc = sys.argv[1], sys.argv[2], int(sys.argv[3])
real = RealWindow(session_path, "rackhost-midi-writes")
app = real.app
track = app.session.tracks[0]
out = {}


def until(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}: {app.engine_state} {app.messages[-3:]}")
        real.frames(1)
        time.sleep(0.01)


lane = app.open_lane(0, StripTarget("gain_db"))
before = [[p.time, p.value] for p in find(track, StripTarget("gain_db")).points]
controller = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("controller", virtual=True,
                                                                       client_name="winctl")
wire = jack.Client("winctl-wire", no_start_server=True)
try:
    panel = app.open_midi()
    dpg.set_value(panel.input, "virtual:rackhost_in")
    panel.apply_ports()  # the panel's "Use these ports": the engine restarts with the MIDI input
    until(lambda: app.engine is not None and app.engine.alive, "the engine to start with MIDI")
    until(lambda: "rackhost:rackhost_in" in [p.name for p in wire.get_ports(is_midi=True)], "the MIDI port")
    wire.connect("winctl:controller", "rackhost:rackhost_in")
    panel.close()  # out of the lane's way in the screenshot
    app.send(Loop(0, 4 * 48000))
    app.play()
    until(lambda: app.transport[1] and app.transport[0] > 48000 // 4, "the transport to play")
    for value in (90, 60, cc):  # a controller ridden down; the window's own controls untouched
        controller.send(mido.Message("control_change", channel=0, control=7, value=value))
        real.frames(3)
    target = -40.0 + 40.0 * cc / 127
    until(lambda: lane.written is not None and abs(lane.written.value - target) < 1e-9
          and abs(app.strips[0].fader.db - target) < 1e-9 and lane.pass_line, "the window to show the pass")
    real.frames(4)
    out["touched_in_window"] = len(app.writes.touched)
    out["light"] = dpg.get_value(lane.writing_light)
    out["source"] = lane.written.source
    out["readout_color"] = list(dpg.get_item_configuration(app.strips[0].gain_text)["color"])
    out["fader_db"] = app.strips[0].fader.db
    line = dpg.get_item_configuration(lane.pass_line)
    out["line"] = [list(line["p1"]), list(line["p2"]), lane.y_of(target), list(line["color"])]
    dpg.output_frame_buffer(file=shot)
    real.frames(4)
    until(lambda: [[p.time, p.value] for p in find(track, StripTarget("gain_db")).points] != before,
          "the controller to stand still and the pass to be committed in the window")
    until(lambda: not lane.writing, "the lane to show the write ended")
    out["points"] = [[p.time, p.value] for p in find(track, StripTarget("gain_db")).points]
    out["light_after"] = dpg.get_value(lane.writing_light)
    out["line_after"] = lane.pass_line
    out["label"] = app.session.undo()
    out["undone"] = [[p.time, p.value] for p in find(track, StripTarget("gain_db")).points] == before
    app.stop()
    real.frames(4)
finally:
    controller.close()
    wire.close()
app.close()
print(json.dumps(out))
real.close()
"""


def test_a_controllers_touch_pass_shows_in_the_real_window_and_comes_back_as_one_undo_step(
        jack_server, tmp_path, wav_file):
    assert shutil.which("xvfb-run"), "make setup installs xvfb"
    session = Session(sample_rate=SR, block_size=256)
    t = np.arange(4 * SR) / SR
    track = session.add_track("tone", wav_file(np.tile(0.5 * np.sin(2 * np.pi * 441.0 * t), (2, 1))
                                               .astype(np.float32), "tone.wav"))
    track.automation.append(check_envelope(track, Envelope(StripTarget("gain_db"),
                                                           (Point(0.0, -6.0), Point(3.0, -20.0)), "touch")))
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), -40.0, 0.0))
    save_session(session, tmp_path / "ride.json")
    shot = tmp_path / "midi-writes.png"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "ride.json"), str(shot), str(CC)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    value = -40.0 + 40.0 * CC / 127
    assert out["touched_in_window"] == 0 and out["source"] == "midi"  # the engine's pass, shown as a drag's
    assert out["light"] == "writing (touch)"
    assert out["readout_color"][:3] == pytest.approx([c / 255 for c in WRITING], abs=0.01)
    assert out["fader_db"] == pytest.approx(value)  # the fader follows the controller
    (x1, y1), (x2, y2), y, color = out["line"]
    assert y1 == y2 == pytest.approx(y) and x2 > x1  # the value held, from the pass's start to the playhead
    assert color[:3] == pytest.approx([c / 255 for c in WRITING], abs=0.01)
    assert any(p[1] == pytest.approx(value) for p in out["points"])
    assert out["light_after"] == "" and out["line_after"] == 0
    assert out["label"].startswith("write automation (touch)") and out["undone"]
    assert shot.stat().st_size > 10_000
