"""The strip's in / match / delta switches in the real window under Xvfb: real clicks, the measured matching
offset on the strip, and a screenshot into a folder of the test's own."""

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
import json, subprocess, sys, time
import dearpygui.dearpygui as dpg
from gui_window import RealWindow

session_path, shot = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-audition", width=1280, height=720)
app = real.app
strip = app.strips[0]
out = {"first": dpg.get_value(strip.offset)}
labels = out["labels"] = [dpg.get_item_label(strip.match)]  # the switch's own label: seen without hovering
real.click(strip.match)  # off: the chain at its own level
out["unmatched"] = dpg.get_value(strip.offset)
labels.append(dpg.get_item_label(strip.match))
real.click(strip.match)  # on: measured on the plug-in thread, then shown
real.settle()
out["matched"] = dpg.get_value(strip.offset)
labels.append(dpg.get_item_label(strip.match))
out["offsets"] = list(app.session.tracks[0].audition.offsets)
from rackhost.chain.audition import measure_track
sr, block = float(app.session.sample_rate), app.session.block_size


def measured(span):  # on the plug-in thread, where the window's plug-ins were made
    got = {}
    real.loader.submit("m", lambda: measure_track(app.session.tracks[0], sr, block, span), got.update(value=None)
                       or (lambda r: got.update(value=r)), lambda err: got.update(value=repr(err)))
    real.settle()
    return got["value"][0]


out["whole"] = measured(None)
real.click(app.loop)  # the loop on, over its first second: matching measures there
dpg.set_value(app.loop_range, [0.0, 1.0, 0.0, 0.0])
real.click(strip.match)
real.click(strip.match)
real.settle()
out["looped"] = app.session.tracks[0].audition.offsets[0]
out["looped_expected"] = measured((0, int(sr)))
real.click(strip.hear_input)
out["input"] = [dpg.get_value(strip.offset), app.session.tracks[0].audition.side]
labels.append(dpg.get_item_label(strip.match))
real.click(strip.hear_input)
real.click(strip.delta)
out["delta"] = [dpg.get_value(strip.offset), app.session.tracks[0].audition.delta]
labels.append(dpg.get_item_label(strip.match))
real.click(strip.delta)
real.click(strip.ab)  # B plays (the strips are built again): its own offset
labels.append(dpg.get_item_label(app.strips[0].match))
out["b"] = dpg.get_value(app.strips[0].offset)
real.click(app.strips[0].ab)
subprocess.run(["xdotool", "mousemove", "--window", real.window, "600", "600"], check=True)  # no tooltip in the shot
real.frames(4)
dpg.output_frame_buffer(file=shot)
real.frames(4)
app.close()
print(json.dumps(out))
real.close()
"""


def test_the_strip_measures_and_shows_the_matching_offset_and_switches_input_and_delta(tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    # Quiet for its first second, so a match over the loop there differs from one over the whole file.
    audio = program_signal(2, 4.0)
    audio[:, :SR] *= 0.1
    track = session.add_track("mix", wav_file(audio, "mix.wav"))
    track.chain.add("Gain", gain_db=6.0)
    track.chain.add("ZamCompX2", threshold_db=-30.0, ratio=2.0)
    save_session(session, tmp_path / "audition.json")
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "audition.png"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "audition.json"), str(shot)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["first"] == "A +0.0 dB" and out["unmatched"] == "A unmatched"
    offset_a, offset_b = out["offsets"]
    assert offset_a == offset_b and 2.0 < abs(offset_a) < 10.0  # the chain changes loudness: matched back
    assert out["matched"] == f"A {offset_a:+.1f} dB"
    assert out["whole"] == offset_a
    assert out["looped"] == out["looped_expected"] != offset_a
    assert out["input"] == ["input", "input"]
    assert out["delta"] == ["delta", True]
    looped = out["looped"]
    # The match switch says the offset it plays at; off, and for the input or the delta, it says "match".
    assert out["labels"] == ["A +0.0", "match", f"A {offset_a:+.1f}", "match", "match", f"B {looped:+.1f}"]
    assert out["b"] == f"B {looped:+.1f} dB"
    assert shot.stat().st_size > 10_000


def test_the_match_switch_names_the_offset_that_plays_and_only_when_matching_plays():
    from rackhost.chain.audition import Audition
    from rackhost.gui.strip import match_label

    matched = Audition(match=True, offsets=(-4.04, 2.3))
    assert match_label(matched, "A") == "A -4.0" and match_label(matched, "B") == "B +2.3"
    assert match_label(matched, "B", narrow=True) == "+2.3"  # a narrow strip: the dB alone
    other = Audition(match=True, offsets=(-4.0, 2.3), side="other", runs_other=True)
    assert match_label(other, "A") == "B +2.3"  # A is the setting, B the side that plays
    assert match_label(Audition(match=True, side="other", runs_other=True, compare_slot=1,
                                  other_offset=1.0), "A") == "byp +1.0"
    for quiet in (Audition(match=False, offsets=(-4.0, 2.3)), Audition(match=True, side="input"),
                  Audition(match=True, delta=True), Audition(match=True, offsets=(1.0, 1.0), blind=True)):
        assert match_label(quiet, "A") == "match" and match_label(quiet, "A", narrow=True) == "lm"
