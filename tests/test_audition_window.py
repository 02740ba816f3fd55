"""The strips' in / match / delta switches (a track's, a bus's, the master's) in the real window under Xvfb: real
clicks, the measured matching offset on the strip, and a screenshot into a folder of the test's own."""

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

# What each script starts with: the window on the session, what it tells the engine, and the checks it makes.
PRELUDE = r"""
import json, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from rackhost.chain.audition_measure import measure_audition

session_path, shot = sys.argv[1], sys.argv[2]
real = RealWindow(session_path, "rackhost-audition", width=1280, height=720)
app = real.app
sent = []
app.send = sent.append  # what the engine would be told
out = {}


def expected(owner, span):  # the Python call, on the plug-in thread, where the window's plug-ins were made
    got = {}
    real.loader.submit("m", lambda: measure_audition(app.session, owner, span), lambda r: got.update(value=r),
                       lambda err: got.update(value=repr(err)))
    real.settle()
    return list(got["value"].offsets)


def switches(strip, owner):  # match off and on again (measured then), in and delta, by real clicks: what it showed
    seen = {"first": dpg.get_value(strip.offset)}
    labels = seen["labels"] = [dpg.get_item_label(strip.match)]  # the switch's own label: seen without hovering
    real.click(strip.match)  # off: the chain at its own level
    seen["unmatched"] = dpg.get_value(strip.offset)
    labels.append(dpg.get_item_label(strip.match))
    real.click(strip.match)  # on: measured on the plug-in thread, then shown
    real.settle()
    seen["matched"] = dpg.get_value(strip.offset)
    labels.append(dpg.get_item_label(strip.match))
    seen["offsets"] = list(owner.audition.offsets)
    seen["expected"] = expected(owner, None)
    seen["sent"] = [f"{type(c).__name__} {c.track!r} {c.side} {c.offsets!r}" for c in sent[-1:]]
    real.click(strip.hear_input)
    seen["input"] = [dpg.get_value(strip.offset), owner.audition.side, sent[-1].side]
    labels.append(dpg.get_item_label(strip.match))
    real.click(strip.hear_input)
    real.click(strip.delta)
    seen["delta"] = [dpg.get_value(strip.offset), owner.audition.delta, sent[-1].delta]
    labels.append(dpg.get_item_label(strip.match))
    real.click(strip.delta)
    return seen


def loop_over(start, end):  # typed into the transport's range fields: their callback makes it the session's loop
    dpg.set_value(app.loop_range, [start, end, 0.0, 0.0])
    app.set_loop(dpg.get_value(app.loop))


def looped(strip, owner):  # the loop on over its first second, match off and on: its offset and the Python call's
    real.click(app.loop)
    loop_over(0.0, 1.0)
    real.click(strip.match)
    real.click(strip.match)
    real.settle()
    return [owner.audition.offsets[0], expected(owner, (0, 48000))[0]]
"""
TRACK = r"""
out["track"] = switches(app.strips[0], app.session.tracks[0])
out["looped"] = looped(app.strips[0], app.session.tracks[0])
real.click(app.strips[0].ab)  # B plays (the strips are built again): its own offset
out["b"] = [dpg.get_item_label(app.strips[0].match), dpg.get_value(app.strips[0].offset)]
real.click(app.strips[0].ab)
loop_over(10.0, 12.0)  # past the file's end (4 s): matching says so rather than failing inside numpy
real.click(app.strips[0].match)
real.click(app.strips[0].match)
real.settle()
out["past"] = app.messages[-1]
"""
BUSSES = r"""
out["bus"] = switches(app.bus_strips[0], app.session.busses[0])
out["master"] = switches(app.master, app.session.master)
out["looped"] = looped(app.master, app.session.master)
real.click(app.master.hear_input)  # the shot: the master compared bypassed, the bus matched
"""


def _seen_switching(seen: dict, where: str, lowest: float, highest: float) -> float:
    """The checks of :func:`switches`' answers for the strip the engine knows as ``where``; its offset."""
    # Never measured yet: no number that reads as a measured 0 dB match.
    assert seen["first"] == "A not matched yet" and seen["unmatched"] == "A unmatched", where
    offset_a, offset_b = seen["offsets"]
    assert offset_a == offset_b and lowest < abs(offset_a) < highest, where  # the chain changes loudness
    assert seen["offsets"] == seen["expected"], where  # as the Python call measures it
    assert seen["matched"] == f"A {offset_a:+.1f} dB", where
    assert seen["sent"] == [f"SetAudition {where} chain {tuple(seen['offsets'])!r}"], where
    assert seen["input"] == ["input", "input", "input"], where
    assert seen["delta"] == ["delta", True, True], where
    # The match switch says the offset it plays at; off, and for the input or the delta, it says "match".
    assert seen["labels"] == ["A --", "match", f"A {offset_a:+.1f}", "match", "match"], where
    return offset_a


# Both scripts end with the shot: the pointer away (no tooltip in it), then what they saw, as JSON.
SHOT = r"""
subprocess.run(["xdotool", "mousemove", "--window", real.window, "1200", "700"], check=True)
real.frames(4)
dpg.output_frame_buffer(file=shot)
real.frames(4)
app.close()
print(json.dumps(out))
real.close()
"""


def _window(script: str, session: Session, folder: Path, name: str) -> tuple[dict, Path]:
    """Run ``script`` (after :data:`PRELUDE`, then :data:`SHOT`) on ``session`` in the real window under Xvfb: what it printed, and
    its screenshot, written to RACKHOST_AUDITION_SHOTS or ``folder``."""
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    save_session(session, folder / "audition.json")
    shots = SHOTS or folder
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / name
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", PRELUDE + script + SHOT,
                          str(folder / "audition.json"), str(shot)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), shot


def test_the_strip_measures_and_shows_the_matching_offset_and_switches_input_and_delta(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    # Quiet for its first second, so a match over the loop there differs from one over the whole file.
    audio = program_signal(2, 4.0)
    audio[:, :SR] *= 0.1
    track = session.add_track("mix", wav_file(audio, "mix.wav"))
    track.chain.add("Gain", gain_db=6.0)
    track.chain.add("ZamCompX2", threshold_db=-30.0, ratio=2.0)
    out, shot = _window(TRACK, session, tmp_path, "audition.png")
    offset = _seen_switching(out["track"], "0", 2.0, 10.0)
    assert out["looped"][0] == out["looped"][1] != offset
    looped = out["looped"][0]  # B (a copy of A) was measured over the loop too
    assert out["b"] == [f"B {looped:+.1f}", f"B {looped:+.1f} dB"]
    assert out["past"].startswith("could not match track 'mix': the loop range 10.0-12.0 s lies past the end "
                                  "of track 'mix' (4.0 s): set the loop inside it, or turn the loop off"), out["past"]
    assert shot.stat().st_size > 10_000


def test_the_bus_and_master_strips_measure_and_show_the_offset_and_switch_input_and_delta(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    audio = program_signal(2, 4.0)
    audio[:, :SR] *= 0.1  # quiet for its first second: a match over the loop there differs
    session.add_track("drums", wav_file(audio, "drums.wav"), output="drum bus")
    bus = session.add_bus("drum bus")
    bus.chain.add("ZamCompX2", threshold_db=-30.0, ratio=4.0)
    bus.chain.add("Gain", gain_db=16.0)
    session.master.chain.add("ZamCompX2", threshold_db=-20.0, ratio=2.0)
    session.master.chain.add("Gain", gain_db=-4.0)
    out, shot = _window(BUSSES, session, tmp_path, "audition-busses.png")
    bus, master = _seen_switching(out["bus"], "BusRow(index=0)", 1.0, 15.0), _seen_switching(out["master"], "None",
                                                                                           1.0, 15.0)
    assert bus < 0 < master  # the bus's chain is louder than its input, the master's quieter
    assert out["looped"][0] == out["looped"][1] != master
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
    # Never measured: no number (a "+0.0" would read as a measured match), and it plays at 0 dB meanwhile.
    fresh = Audition(match=True)
    assert match_label(fresh, "A") == "A --" and match_label(fresh, "B", narrow=True) == "--"
    assert fresh.label("B") == "B not matched yet" and fresh.gains("B") == (1.0, 0.0, 0.0)
    half = Audition(match=True, offsets=(-4.0, None))  # A measured, B (made since) not yet
    assert match_label(half, "A") == "A -4.0" and match_label(half, "B") == "B --"
    slot = Audition(match=True, side="other", runs_other=True, compare_slot=1)
    assert match_label(slot, "A") == "byp --" and slot.label() == "slot 2 bypassed not matched yet"
    assert slot.gains() == (0.0, 0.0, 1.0)
    for quiet in (Audition(match=False, offsets=(-4.0, 2.3)), Audition(match=True, side="input"),
                  Audition(match=True, delta=True), Audition(match=True, offsets=(1.0, 1.0), blind=True)):
        assert match_label(quiet, "A") == "match" and match_label(quiet, "A", narrow=True) == "lm"


EXCLUSIVE = r"""
def ticks(strip, owner):  # what the switches show, what the model holds, what the engine was told last
    return [dpg.get_value(strip.hear_input), dpg.get_value(strip.delta), owner.audition.side, owner.audition.delta,
            sent[-1].side, sent[-1].delta, dpg.get_value(strip.offset)]


for key, strip, owner in (("master", app.master, app.session.master), ("track", app.strips[0], app.session.tracks[0])):
    seen = out[key] = []
    real.click(strip.hear_input)  # in: the input
    seen.append(ticks(strip, owner))
    real.click(strip.delta)  # delta: what the chain changes; in goes off
    seen.append(ticks(strip, owner))
    real.click(strip.hear_input)  # in again: delta goes off
    seen.append(ticks(strip, owner))
    real.click(strip.hear_input)  # in off: the chain
    seen.append(ticks(strip, owner))
    real.settle()
"""


def test_in_and_delta_are_one_choice_ticking_one_unticks_the_other_on_the_master_and_a_track(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("mix", wav_file(program_signal(2, 2.0), "mix.wav")).chain.add("Gain", gain_db=3.0)
    session.master.chain.add("Gain", gain_db=-2.0)
    out, _ = _window(EXCLUSIVE, session, tmp_path, "audition-exclusive.png")
    for key in ("master", "track"):
        assert out[key] == [[True, False, "input", False, "input", False, "input"],
                            [False, True, "chain", True, "chain", True, "delta"],
                            [True, False, "input", False, "input", False, "input"],
                            [False, False, "chain", False, "chain", False, out[key][3][6]]], key
        assert out[key][3][6].startswith("A ")  # the chain again, matched


def test_the_model_refuses_delta_with_the_input_playing_and_its_switches_untick_each_other():
    import pytest

    from rackhost.chain.audition import Audition
    from rackhost.live.commands import SetAudition

    with pytest.raises(ValueError, match="untick one"):
        Audition(side="input", delta=True)
    with pytest.raises(ValueError, match="untick one"):
        Audition(side="other", runs_other=True, delta=True)
    with pytest.raises(ValueError, match="send side='chain'"):
        SetAudition(None, side="input", delta=True)
    hearing = Audition(offsets=(1.0, 2.0)).hearing_input(True)
    assert (hearing.side, hearing.delta, hearing.offsets) == ("input", False, (1.0, 2.0))
    delta = hearing.hearing_delta(True)
    assert (delta.side, delta.delta) == ("chain", True)
    back = delta.hearing_input(True)
    assert (back.side, back.delta) == ("input", False)
    assert back.hearing_input(False).side == "chain" and delta.hearing_delta(False) == Audition(offsets=(1.0, 2.0))
    assert Audition().hearing_input(False) == Audition()
