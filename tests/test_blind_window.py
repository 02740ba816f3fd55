"""The blind-test panel in the real window under Xvfb: real clicks run a short ABX test; nothing names the
hidden side before the last answer; the score, p-value and reveal follow; a screenshot into the test's folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SR, program_signal

from rackhost.chain import Session
from rackhost.chain.blind import BlindTest
from rackhost.chain.chain import Chain
from rackhost.chain.compare import switch
from rackhost.presets import save_session

SHOTS = Path(os.environ["RACKHOST_BLIND_SHOTS"]) if os.environ.get("RACKHOST_BLIND_SHOTS") else None
SEED = 7  # hides A and B both within the four trials; the answers get 3 of 4 right
ANSWERS = ["A", "B", "B", "A"]

WINDOW = r"""
import json, subprocess, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow

session_path, shot, seed, answers = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
real = RealWindow(session_path, "rackhost-blind", width=1280, height=720)
app = real.app
strip = app.strips[0]
track = app.session.tracks[0]
real.click(strip.blind)  # the strip's abx button opens the panel
real.settle()
panel = app.blind_test
dpg.set_value(panel.trials, len(answers))
panel.seed = seed  # repeatable: the test knows the draw
real.click(panel.reset)
out = {"texts": [], "plays": [], "strip": []}


def texts():
    # Everything the panel and the strip show while the test runs.
    items = [panel.count, panel.score, panel.reveal, panel.question, panel.caption, strip.offset]
    return [dpg.get_value(i) for i in items] + [dpg.get_item_label(b) for b in panel.play_buttons.values()]


for answer in answers:
    for button in ("A", "B", "X"):
        real.click(panel.play_buttons[button])
        a = track.audition
        out["plays"].append([button, a.side, a.blind, a.runs_other])
        out["strip"].append([dpg.get_value(strip.offset), dpg.get_value(strip.hear_input),
                             dpg.get_item_label(strip.match)])
    out["texts"].append(texts())
    real.click(panel.answer_buttons[answer])
out["final"] = texts()
out["score"] = panel.test.score
out["p"] = panel.test.p_value
out["answers_enabled"] = [dpg.is_item_enabled(b) for b in panel.answer_buttons.values()]
subprocess.run(["xdotool", "mousemove", "--window", real.window, "1200", "700"], check=True)  # no tooltip
dpg.set_item_pos(panel.window, [700, 60])
real.frames(4)
dpg.output_frame_buffer(file=shot)
real.frames(4)
panel.close()
real.frames(2)
out["after"] = [track.audition.blind, track.audition.side, track.audition.runs_other, dpg.get_value(strip.offset)]
app.close()
print(json.dumps(out))
real.close()
"""


def test_a_short_abx_run_in_the_window_hides_x_until_the_end_and_scores_it(tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("mix", wav_file(program_signal(2, 2.0), "mix.wav"))
    track.chain.add("Gain", gain_db=-6.0)
    switch(track)  # B: a compressor instead
    track.chain = Chain()
    track.chain.add("ZamCompX2", threshold_db=-30.0, ratio=4.0)
    switch(track)
    save_session(session, tmp_path / "blind.json")
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "abx.png"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tests).parent), tests]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-c", WINDOW,
                          str(tmp_path / "blind.json"), str(shot), str(SEED), json.dumps(ANSWERS)],
                         check=False, capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    expected = BlindTest("abx", len(ANSWERS), SEED)
    hidden = []
    for n, answer in enumerate(ANSWERS):
        hidden.append(expected.side_for("X"))
        plays = out["plays"][3 * n : 3 * n + 3]
        # A plays the A setting (the chain), B the other one, X whichever is hidden: each a blind crossfade.
        sides = {"A": "chain", "B": "other"}
        assert plays == [["A", "chain", True, True], ["B", "other", True, True],
                         ["X", sides[hidden[-1]], True, True]]
        expected.answer(answer)
    assert set(hidden) == {"A", "B"}
    for shown in out["texts"]:  # before the end nothing says which side X is
        assert not any("X was" in t or "X is A" == t for t in shown[:3])
    assert all(strip == ["blind test", False, "match"] for strip in out["strip"])  # no side, no offset
    right = sum(a == h for a, h in zip(ANSWERS, hidden))
    assert out["score"] == right == expected.score
    assert abs(out["p"] - expected.p_value) < 1e-12
    count, score, reveal = out["final"][:3]
    assert count == f"trial {len(ANSWERS)} of {len(ANSWERS)} - finished"
    assert score == f"{right}/{len(ANSWERS)} right, p = {expected.p_value:.3f}"
    assert all(f"{n}: X was {h}" in reveal for n, h in enumerate(hidden, 1))
    assert out["answers_enabled"] == [False, False]
    assert out["after"] == [False, "chain", False, "A not matched yet"] or out["after"][:3] == [False, "chain", False]
    assert shot.stat().st_size > 10_000


def _ab_file(tmp_path: Path, wav_file) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("mix", wav_file(program_signal(2, 1.0), "mix.wav"))
    track.chain.add("Gain", gain_db=-6.0)
    track.chain.add("ZamCompX2", threshold_db=-30.0, ratio=4.0)
    save_session(session, tmp_path / "ab.json")
    return tmp_path / "ab.json"


def test_a_blind_ab_run_plays_1_and_2_as_the_hidden_order_and_names_no_side_until_the_end(tmp_path, wav_file):
    from gui_driver import built_window, click

    with built_window(_ab_file(tmp_path, wav_file)) as rack:
        panel = rack.open_blind_test(0, seed=7)
        click(panel.mode, "blind A/B")
        click(panel.sides, "chain vs input")
        click(panel.trials, 3)
        assert list(panel.play_buttons) == ["1", "2"]
        assert [dpg_label(b) for b in panel.answer_buttons.values()] == ["1 is better", "2 is better"]
        expected = BlindTest("ab", 3, 7)
        track = rack.session.tracks[0]
        for answer in ("1", "1", "2"):
            first = expected.side_for("1")
            click(panel.play_buttons["1"])
            # Side A of "chain vs input" is the chain, B the input; the strip shows neither.
            assert track.audition.side == ("chain" if first == "A" else "input") and track.audition.blind
            assert not rack.strips[0].hear_input or not dpg_value(rack.strips[0].hear_input)
            click(panel.answer_buttons[answer])
            expected.answer(answer)
            if not expected.finished:
                assert "A" not in dpg_value(panel.score) and "B" not in dpg_value(panel.score)
        assert panel.test.preferences() == expected.preferences()
        assert dpg_value(panel.score) == expected.summary() and "chosen" in expected.summary()
        panel.close()
        assert not track.audition.blind and track.audition.side == "chain"


def test_a_slots_delta_switch_in_its_panel_plays_the_delta_and_names_it_on_the_strip(tmp_path, wav_file):
    from gui_driver import built_window, click

    with built_window(_ab_file(tmp_path, wav_file)) as rack:
        panel = rack.open_panel(0, 1)
        click(panel.delta, True)
        slot = rack.session.tracks[0].chain[1]
        assert slot.delta
        assert dpg_label(rack.strips[0].slot_buttons[1]).endswith("delta")
        assert rack.session.history.labels()[0] == []  # a listening switch, not an edit
        click(panel.delta, False)
        assert not slot.delta


def dpg_label(item: int) -> str:
    import dearpygui.dearpygui as dpg

    return dpg.get_item_label(item)


def dpg_value(item: int):
    import dearpygui.dearpygui as dpg

    return dpg.get_value(item)


def test_the_panel_offers_each_slot_bypassed_as_the_other_side(tmp_path, wav_file):
    from gui_driver import built_window, click

    with built_window(_ab_file(tmp_path, wav_file)) as rack:
        panel = rack.open_blind_test(0, seed=1)
        choices = dpg_items(panel.sides)
        assert choices[-2:] == ["slot 1 bypassed: Gain", "slot 2 bypassed: ZamCompX2"]
        click(panel.sides, "slot 2 bypassed: ZamCompX2")
        assert dpg_value(panel.caption) == "A: the chain, B: the chain with ZamCompX2 bypassed"
        click(panel.play_buttons["B"])
        audition = rack.session.tracks[0].audition
        assert (audition.side, audition.compare_slot, audition.runs_other, audition.blind) == ("other", 1, True, True)
        assert dpg_value(rack.strips[0].offset) == "blind test"


def dpg_items(item: int) -> list[str]:
    import dearpygui.dearpygui as dpg

    return list(dpg.get_item_configuration(item)["items"])
