"""What an engineer sees of a view in the real window under Xvfb (no engine): where its parts sit, what they say.

Each test runs tests/gui_looks_run.py in a process of its own (Dear PyGui's viewport cannot be made twice in one
process) and keeps its screenshot in build/screenshots/ (RACKHOST_SCREENSHOTS: another folder), to be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gui_driver import window_output

from conftest import SR
from rackhost.chain import Session
from rackhost.presets import save_session

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
