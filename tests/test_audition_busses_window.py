"""The bus and master strips' in / match / delta switches in the real window under Xvfb: real clicks, the
measured matching offset on each strip, and a screenshot into a folder of the test's own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SR, program_signal

from rackhost.chain import Session
from rackhost.presets import save_session

SHOTS = Path(os.environ["RACKHOST_AUDITION_SHOTS"]) if os.environ.get("RACKHOST_AUDITION_SHOTS") else None

WINDOW = r"""
import json, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from rackhost.chain.audition_measure import measure_audition

session_path, shot = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-audition-busses", width=1280, height=720)
app = real.app
sent = []
app.send = lambda command: sent.append(command)  # what the engine would be told
out = {}


def expected(owner, span):  # on the plug-in thread, where the window's plug-ins were made
    got = {}
    real.loader.submit("m", lambda: measure_audition(app.session, owner, span), lambda r: got.update(value=r),
                       lambda err: got.update(value=repr(err)))
    real.settle()
    return list(got["value"].offsets)


for name, strip, owner in (("bus", app.bus_strips[0], app.session.busses[0]),
                           ("master", app.master, app.session.master)):
    seen = {"first": dpg.get_value(strip.offset)}
    real.click(strip.match)  # off: the chain at its own level
    seen["unmatched"] = dpg.get_value(strip.offset)
    real.click(strip.match)  # on: measured on the plug-in thread, then shown
    real.settle()
    seen["matched"] = dpg.get_value(strip.offset)
    seen["offsets"] = list(owner.audition.offsets)
    seen["expected"] = expected(owner, None)
    seen["sent"] = [type(c).__name__ + " " + repr(c.track) + " " + c.side + " " + repr(c.offsets) for c in sent[-1:]]
    real.click(strip.hear_input)
    seen["input"] = [dpg.get_value(strip.offset), owner.audition.side, sent[-1].side]
    real.click(strip.hear_input)
    real.click(strip.delta)
    seen["delta"] = [dpg.get_value(strip.offset), owner.audition.delta, sent[-1].delta]
    real.click(strip.delta)
    out[name] = seen
real.click(app.loop)  # the loop on, over its first second: matching measures there
dpg.set_value(app.loop_range, [0.0, 1.0, 0.0, 0.0])
real.click(app.master.match)
real.click(app.master.match)
real.settle()
out["looped"] = app.session.master.audition.offsets[0]
out["looped_expected"] = expected(app.session.master, (0, 48000))[0]
real.click(app.master.hear_input)  # the shot: the master compared bypassed, the bus matched
subprocess.run(["xdotool", "mousemove", "--window", real.window, "1200", "700"], check=True)  # no tooltip
real.frames(4)
dpg.output_frame_buffer(file=shot)
real.frames(4)
app.close()
print(json.dumps(out))
real.close()
"""


def test_the_bus_and_master_strips_measure_and_show_the_offset_and_switch_input_and_delta(tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    audio = program_signal(2, 4.0)
    audio[:, :SR] *= 0.1  # quiet for its first second: a match over the loop there differs
    session.add_track("drums", wav_file(audio, "drums.wav"), output="drum bus")
    bus = session.add_bus("drum bus")
    bus.chain.add("ZamCompX2", threshold_db=-30.0, ratio=4.0)
    bus.chain.add("Gain", gain_db=16.0)
    session.master.chain.add("ZamCompX2", threshold_db=-20.0, ratio=2.0)
    session.master.chain.add("Gain", gain_db=-4.0)
    save_session(session, tmp_path / "busses.json")
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "audition-busses.png"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "busses.json"), str(shot)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for name, where in (("bus", "BusRow(index=0)"), ("master", "None")):
        seen = out[name]
        assert seen["first"] == "A +0.0 dB" and seen["unmatched"] == "A unmatched", name
        offset_a, offset_b = seen["offsets"]
        assert offset_a == offset_b and 1.0 < abs(offset_a) < 15.0, name  # the chain changes loudness
        assert seen["offsets"] == seen["expected"], name  # as the Python call measures it
        assert seen["matched"] == f"A {offset_a:+.1f} dB", name
        assert seen["sent"] == [f"SetAudition {where} chain {tuple(seen['offsets'])!r}"], name
        assert seen["input"] == ["input", "input", "input"], name
        assert seen["delta"] == ["delta", True, True], name
    assert out["bus"]["offsets"][0] < 0 < out["master"]["offsets"][0]  # the bus is louder, the master quieter
    assert out["looped"] == out["looped_expected"] != out["master"]["offsets"][0]
    assert shot.stat().st_size > 10_000
