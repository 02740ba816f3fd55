"""The blind test of the master and of a bus in the real window under Xvfb: their strips' abx buttons open the
panel on that strip, real clicks run a short ABX test on the master chain, nothing names the hidden side before
the last answer; a screenshot into the test's folder (or RACKHOST_BLIND_SHOTS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import SR, program_signal
from gui_driver import built_window, click, window_output

from rackhost.chain import Session
from rackhost.chain.blind import BlindTest
from rackhost.chain.chain import Chain
from rackhost.chain.compare import switch
from rackhost.live.commands import BusRow
from rackhost.presets import save_session

SHOTS = Path(os.environ["RACKHOST_BLIND_SHOTS"]) if os.environ.get("RACKHOST_BLIND_SHOTS") else None
SEED = 7  # hides A and B both within the four trials
ANSWERS = ["A", "B", "A", "A"]

WINDOW = r"""
import json, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from rackhost.live.commands import BusRow

session_path, shot, seed, answers = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
real = RealWindow(session_path, "rackhost-blind-master", width=1280, height=720)
app = real.app
strip = app.master
master = app.session.master
real.click(strip.blind)  # the master strip's abx button opens the panel on the master
real.settle()
panel = app.blind_test
out = {"watched": repr(panel.strip), "title": dpg.get_item_label(panel.window), "caption": dpg.get_value(panel.caption),
       "opened": [master.audition.side, master.audition.blind, master.audition.runs_other],
       "sides": list(dpg.get_item_configuration(panel.sides)["items"]), "plays": [], "strip": [], "texts": []}
dpg.set_value(panel.trials, len(answers))
panel.seed = seed
real.click(panel.reset)


def texts():
    items = [panel.count, panel.score, panel.reveal, panel.question, strip.offset]
    return [dpg.get_value(i) for i in items] + [dpg.get_item_label(b) for b in panel.play_buttons.values()]


for answer in answers:
    for button in ("A", "B", "X"):
        real.click(panel.play_buttons[button])
        a = master.audition
        out["plays"].append([button, a.side, a.blind, a.runs_other])
        out["strip"].append([dpg.get_value(strip.offset), dpg.get_value(strip.hear_input)])
    out["texts"].append(texts())
    real.click(panel.answer_buttons[answer])
out["final"] = texts()
out["score"] = panel.test.score
out["p"] = panel.test.p_value
subprocess.run(["xdotool", "mousemove", "--window", real.window, "1200", "700"], check=True)  # no tooltip
dpg.set_item_pos(panel.window, [452, 330])  # beside the master strip, its header in view
real.frames(4)
dpg.output_frame_buffer(file=shot)
real.frames(4)
bus_strip = app.bus_strips[0]
real.click(bus_strip.blind)  # the bus's test closes the master's: the master plays as before
real.settle()
out["bus"] = [repr(app.blind_test.strip), dpg.get_item_label(app.blind_test.window)]
out["master_after"] = [master.audition.blind, master.audition.side, master.audition.runs_other]
app.blind_test.close()
real.frames(2)
app.close()
print(json.dumps(out))
real.close()
"""


def _mastered_file(tmp_path: Path, wav_file) -> Path:
    """A track into a bus, and a master whose A setting is a hard-driven ZaMaximX2 and B a built-in Limiter."""
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("mix", wav_file(program_signal(2, 2.0), "mix.wav"))
    bus = session.add_bus("glue")
    bus.chain.add("ZamCompX2", threshold_db=-24.0, ratio=3.0)
    bus.chain.add("Gain", gain_db=2.0)
    track.output = "glue"
    master = session.master
    master.chain.add("ZaMaximX2", threshold_db=-12.0)
    switch(master)  # B: a built-in limiter instead
    master.chain = Chain()
    master.chain.add("Limiter", threshold_db=-10.0)
    master.chain.add("Gain", gain_db=1.0)
    switch(master)
    save_session(session, tmp_path / "mastered.json")
    return tmp_path / "mastered.json"


def test_the_master_strips_abx_button_runs_a_blind_test_of_the_master_chain(tmp_path, wav_file):
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "abx_master.png"
    out = window_output("-c", WINDOW, _mastered_file(tmp_path, wav_file), shot, str(SEED), json.dumps(ANSWERS))
    assert out["watched"] == "None" and out["title"] == "Blind test: master"
    assert out["caption"] == "A: the A setting, B: the B setting"
    assert out["sides"] == ["A/B settings", "chain vs input", "slot 1 bypassed: ZaMaximX2"]
    # Opening it starts B beside the playing A, so the first X is a crossfade too; A still plays.
    assert out["opened"] == ["chain", True, True]
    expected = BlindTest("abx", len(ANSWERS), SEED)
    hidden = []
    for n, answer in enumerate(ANSWERS):
        hidden.append(expected.side_for("X"))
        sides = {"A": "chain", "B": "other"}
        assert out["plays"][3 * n : 3 * n + 3] == [["A", "chain", True, True], ["B", "other", True, True],
                                                   ["X", sides[hidden[-1]], True, True]]
        expected.answer(answer)
    assert set(hidden) == {"A", "B"}
    for shown in out["texts"]:  # before the end nothing says which side X is
        assert not any("X was" in t for t in shown[:3])
    assert all(s == ["blind test", False] for s in out["strip"])  # the master strip names no side, no offset
    assert out["score"] == expected.score and abs(out["p"] - expected.p_value) < 1e-12
    count, score, reveal = out["final"][:3]
    assert count == f"trial {len(ANSWERS)} of {len(ANSWERS)} - finished"
    assert score == f"{expected.score}/{len(ANSWERS)} right, p = {expected.p_value:.3f}"
    assert all(f"{n}: X was {h}" in reveal for n, h in enumerate(hidden, 1))
    assert out["bus"] == ["BusRow(index=0)", "Blind test: bus 'glue'"]
    assert out["master_after"] == [False, "chain", False]  # closed: the master plays as before the test
    assert shot.stat().st_size > 10_000


def test_a_bus_blind_ab_against_a_bypassed_slot_plays_that_side_and_names_none(tmp_path, wav_file):
    with built_window(_mastered_file(tmp_path, wav_file)) as rack:
        panel = rack.open_blind_test(BusRow(0), seed=3)
        bus = rack.session.busses[0]
        assert dpg_items(panel.sides)[:2] == ["A/B settings", "chain vs input"]
        assert dpg_value(panel.sides) == "chain vs input"  # no B setting: the chain against what feeds it
        click(panel.mode, "blind A/B")
        click(panel.sides, "slot 1 bypassed: ZamCompX2")
        click(panel.trials, 3)
        assert dpg_value(panel.caption) == "A: the chain, B: the chain with ZamCompX2 bypassed"
        expected = BlindTest("ab", 3, 3)
        for answer in ("2", "1", "2"):
            click(panel.play_buttons["1"])
            first = expected.side_for("1")
            a = bus.audition
            assert (a.side, a.compare_slot, a.runs_other, a.blind) == \
                ("chain" if first == "A" else "other", 0, True, True)
            view = rack.bus_strips[0]
            assert dpg_value(view.offset) == "blind test" and not dpg_value(view.hear_input)
            click(panel.answer_buttons[answer])
            expected.answer(answer)
        assert panel.test.preferences() == expected.preferences()
        assert dpg_value(panel.score) == expected.summary()
        panel.close()
        assert not bus.audition.blind and bus.audition.side == "chain" and not bus.audition.runs_other


def dpg_value(item: int):
    import dearpygui.dearpygui as dpg

    return dpg.get_value(item)


def dpg_items(item: int) -> list[str]:
    import dearpygui.dearpygui as dpg

    return list(dpg.get_item_configuration(item)["items"])
