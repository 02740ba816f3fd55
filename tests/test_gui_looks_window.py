"""What an engineer sees of a view in the real window under Xvfb (no engine): where its parts sit, what they say.

Each test runs tests/gui_looks_run.py in a process of its own (Dear PyGui's viewport cannot be made twice in one
process) and keeps its screenshot in build/screenshots/ (RACKHOST_SCREENSHOTS: another folder), to be looked at.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from gui_driver import window_output

from conftest import SR
from rackhost.chain import Session
from rackhost.presets import save_session
from rackhost.presets.store import FACTORY_DIR, user_presets_dir

SHOTS = Path(os.environ.get("RACKHOST_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "build" / "screenshots")


def looks(case: str, session: Session, folder: Path, size: str = "1280x720") -> dict:
    """Run ``case`` of gui_looks_run.py on ``session`` in a window of ``size``: what it printed."""
    path = folder / f"{case}.json"
    save_session(session, path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"looks-{case}-{size.split('x')[0]}.png"
    shot.unlink(missing_ok=True)
    out = window_output("gui_looks_run.py", case, path, shot, size, screen=size)
    assert shot.stat().st_size > 10_000  # a drawn window, not a blank frame
    return out


def _middle(rect: list[float]) -> float:
    return rect[1] + rect[3] / 2


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.beside_others  # only renders: no engine, no clicks
def test_the_parameter_panel_reads_like_a_form_each_label_before_its_control_and_the_controls_aligned(tmp_path):
    session = Session(sample_rate=SR)
    session.add_track("vox", None, input=(0, 1)).chain.add("ZamCompX2")
    out = looks("parameter_form", session, tmp_path)
    controls, texts = out["controls"], out["texts"]
    assert len(controls) >= 8, controls  # sliders and ZamCompX2's on/off switches, in view
    for name, control in controls.items():
        assert not control["label"], f"{name}: a label after its control ({control['label']!r})"
        left, top, width, height = control["rect"]
        # Its label: a text on its line, ending before the control starts (a cut one says it whole on hover).
        beside = [t for t in texts if abs(_middle(t["rect"]) - _middle(control["rect"])) < height / 2
                  and t["rect"][0] + t["rect"][2] <= left]
        assert len(beside) == 1, f"{name}: {beside}"
        words = beside[0]["tip"] or beside[0]["text"]
        assert words.split(" (")[0].replace(" ", "_") in name, (name, words)
    # A form: the labels start at one x, the controls at another.
    assert len({c["rect"][0] for c in controls.values()}) == 1, controls
    labels = [t for t in texts if any(abs(_middle(t["rect"]) - _middle(c["rect"])) < c["rect"][3] / 2
                                      for c in controls.values())]
    assert len({t["rect"][0] for t in labels}) == 1, labels
    # The top row's wet/dry slider too: its words before it, not after.
    mix = out["mix"]
    assert not mix["label"], f"wet/dry: a label after its slider ({mix['label']!r})"
    left, top, width, height = mix["rect"]
    before = [t["text"] for t in out["top"] if abs(_middle(t["rect"]) - _middle(mix["rect"])) < height / 2
              and t["rect"][0] + t["rect"][2] <= left]
    assert before == ["wet/dry"], out["top"]


@pytest.mark.beside_others  # only renders: no engine, no clicks
def test_a_chain_that_adds_level_reads_as_gain_in_the_spectrum_view_not_as_negative_reduction(tmp_path):
    session = Session(sample_rate=SR)
    session.add_track("vox", None, input=(0, 1))
    session.master.chain.add("Gain", gain_db=3.9)
    out = looks("spectrum_gain", session, tmp_path)
    assert out["estimate"] == pytest.approx(-3.9, abs=0.05)  # the estimate itself keeps its sign
    assert out["readout"] == "chain gain ~+3.9 dB est."
    assert out["slots_line"] == "Gain: gain ~+3.9 dB est."
    assert out["slot_label"] == "Gain ~+4"
    assert "gain ~+3.9 dB est." in out["slot_tip"] and "~-" not in out["slot_tip"]


@pytest.mark.beside_others  # only renders: no engine, no clicks
def test_a_narrow_strips_level_readout_keeps_its_words_apart_and_fits_the_strip(tmp_path):
    session = Session(sample_rate=SR)
    for name in ("kick", "snare", "room", "vox"):
        session.add_track(name, None, input=(0, 1))
    out = looks("narrow_readouts", session, tmp_path)
    texts = [r["text"] for r in out["readouts"]]
    # One line each, each word apart from its figure ("pk-14.4 rms-26.2" ran together), the same length each
    # (whole dB under -99.9: a tenth there would not fit).
    assert texts == ["pk -14.4 rms -26.2", "pk  -6.0 rms -14.0", "pk  -100 rms  -118", "pk  -inf rms  -inf"]
    for readout in out["readouts"]:
        left, top, width, height = readout["rect"]
        assert width <= readout["inner"], readout  # in the strip, not clipped at its edge
        assert left + width <= readout["band"][0] + readout["band"][2], readout
        assert height < 20, readout  # one line of text


@pytest.mark.beside_others  # only renders: no engine, no clicks
def test_a_narrow_strips_pan_knob_and_its_value_fit_beside_its_switches_with_or_without_mon(tmp_path):
    session = Session(sample_rate=SR)
    session.add_track("vox", None, input=(0, 1))  # an input: its mon switch shows
    session.add_track("pad")  # none: no mon
    session.add_bus("verb")
    out = looks("narrow_pan", session, tmp_path)
    strips = {s["name"]: s for s in out["strips"]}
    assert "mon" in strips["vox"]["switches"] and "mon" not in strips["pad"]["switches"], strips
    for name, strip in strips.items():
        left, top, width, height = strip["band"]
        right = left + width  # the strip's inside: its colour band spans it
        for part in ("pan", "pan_text"):
            assert left <= strip[part][0] and strip[part][0] + strip[part][2] <= right, (name, part, strip)
        # Beside the switches, not over them.
        switches = strip["switches"].values()
        assert not any(_overlap(r, strip[part]) for r in switches for part in ("pan", "pan_text")), (name, strip)
        assert all(left <= r[0] and r[0] + r[2] <= right for r in switches), (name, strip)
        # The audition row under both, whole, above the fader.
        below = max(r[1] + r[3] for r in (*switches, strip["pan"], strip["pan_text"]))
        assert all(below <= r[1] and r[1] + r[3] <= strip["console"][1] for r in strip["audition"]), (name, strip)
        assert all(r[0] + r[2] <= right for r in strip["audition"]), (name, strip)
    assert len({s["pan"][0] - s["band"][0] for s in strips.values()}) == 1, strips  # one place in every strip


@pytest.fixture
def long_user_preset():
    """A user preset with a long name and many tags, beside the factory ones; removed after the test."""
    folder = user_presets_dir() / "mixing"
    folder.mkdir(parents=True, exist_ok=True)
    preset = json.loads((FACTORY_DIR / "mixing" / "bass-glue.json").read_text(encoding="utf-8"))
    preset.update(name=LONG_NAME, tags=LONG_TAGS)
    path = folder / f"{LONG_NAME}.json"
    path.write_text(json.dumps(preset), encoding="utf-8")
    yield path
    shutil.rmtree(user_presets_dir(), ignore_errors=True)


LONG_NAME = "vocal-bright-and-airy-for-ballads"
LONG_TAGS = ["vocal", "bright", "air", "pop", "ballad", "de-essed", "parallel compression"]


def test_the_preset_list_cuts_a_long_cell_with_dots_and_says_it_whole_on_hover(tmp_path, long_user_preset):
    session = Session(sample_rate=SR)
    session.add_track("vox", None, input=(0, 1))
    out = looks("preset_list", session, tmp_path)
    rows = out["rows"]
    assert len(rows) >= 10
    whole_tags = ", ".join(LONG_TAGS)
    [long_row] = [row for row in rows if (row[0]["tip"] or row[0]["text"]).startswith(LONG_NAME)]
    # A selectable is as wide as its column, or as its words where they are wider (clipped at the column's edge):
    # a column's narrowest cell is its width.
    columns = [min(row[k]["rect"][2] for row in rows) for k in range(3)]
    for row in rows:
        for cell, column in zip(row, columns):
            assert len(cell["text"]) * out["char"] <= column, (cell, column)  # else clipped without a mark
            if cell["tip"] is not None:  # cut: ".." at the end, and the tooltip has it whole
                assert cell["text"].endswith("..") and cell["tip"].startswith(cell["text"][:-2]), cell
            else:
                assert not cell["text"].endswith(".."), cell
    assert long_row[0]["tip"] == f"{LONG_NAME}  (user)" and long_row[2]["tip"] == whole_tags
    assert out["hovered"] == long_row[2]["text"] and out["tip_shown"]


@pytest.mark.parametrize("size", ["1280x720", "1920x1080"])
def test_the_spectrum_view_opens_under_the_menu_and_the_transport_beside_the_first_strips(tmp_path, size):
    session = Session(sample_rate=SR)
    for name in ("kick", "bass", "vox"):
        session.add_track(name, None, input=(0, 1))
    out = looks("spectrum_place", session, tmp_path, size)
    left, top, width, height = out["window"]
    record = out["record"]
    assert top >= record[1] + record[3], out  # the menu bar and Play, Stop, Record stay in reach
    assert left + width <= out["viewport"][0] and top + height <= out["viewport"][1], out  # all of it in the window
    band = out["band"]
    assert left >= band[0] + band[2], out  # the first strip, whose readout opened it, stays in view
