"""Strips like a console, in the real window under Xvfb with the engine playing under JACK, worked with
real input events (xdotool): the fader's drag, Ctrl, wheel and double-click, the pan knob, the meter and
its peak hold against the signal played, the clip light latching until clicked, Ctrl+Z, and the keyboard
shortcuts (Space, Home, L, Delete on the selected slot; none of them while typing into a field), a slot
dragged onto another strip and a track dragged by its grip."""

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
from rackhost.chain.dsp import pan_gains
from rackhost.gui.taper import fader_db, fader_position, meter_deflection
from rackhost.presets import save_session

LOUD, QUIET = 0.9, 0.25  # sine amplitudes; the loud track's +3 dB fader takes it over full scale


def _sine(amplitude: float, seconds: float = 30.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = (amplitude * np.sin(2 * np.pi * 997.0 * t)).astype(np.float32)
    return np.vstack([tone, tone])


def test_faders_knobs_meters_and_clip_lights_work_like_a_desks_in_the_real_window(jack_server, tmp_path, wav_file):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("loud", wav_file(_sine(LOUD), "loud.wav"), gain_db=3.0)
    session.add_track("quiet", wav_file(_sine(QUIET), "quiet.wav"), pan=0.5).chain.add("Gain", gain_db=0.0)
    save_session(session, tmp_path / "console.json")
    shots = Path(os.environ.get("RACKHOST_SHOTS", tmp_path))
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable,
                          str(tests / "gui_console_clicks.py"), str(tmp_path / "console.json"), str(shots)],
                         capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    # The quiet track's bars and peak-hold lines stand at its level on the meter's scale, after its pan
    # (a balance at 0.5: the left channel lowered, the right at unity), and it never clipped.
    meter = out["quiet_meter"]
    levels = [(1 - meter_deflection(20 * np.log10(QUIET * gain))) * (meter["height"] - 1)
              for gain in pan_gains(0.5, 2)]
    assert meter["bars"] == pytest.approx(levels, abs=1.5)
    assert meter["holds"] == pytest.approx(levels, abs=1.5)
    assert not meter["clipped"]

    # A drag of 60 pixels down moves the fader along its taper, as one undo step, shown under the fader.
    drag = out["after_drag"]
    expected = fader_db(fader_position(3.0) - 60 / out["fader_travel"])
    assert drag["gain"] == pytest.approx(expected, abs=0.3)
    assert drag["new_steps"] == 1 and drag["label"] == "gain loud"
    assert drag["shown"] == f"{drag['gain']:.1f}"
    assert out["clip_after_drag"] is True  # latched: the level fell under full scale, the light stayed lit
    assert out["clip_after_click"] is False
    assert out["after_undo"] == 3.0  # Ctrl+Z; and the engine clips again at that gain (the script waited)

    assert out["after_double_click"] == 0.0
    assert out["after_wheel_up"] == 1.0
    assert out["after_fine_wheel_down"] == pytest.approx(0.9)
    assert out["pan_after_double_click"] == 0.0
    dragged = out["pan_after_drag_up"]
    assert 0.35 <= dragged["pan"] <= 0.65, dragged  # up turns it right, 160 px end to end
    assert dragged["new_steps"] == 1 and dragged["shown"].startswith("R"), dragged
    assert out["narrow_width"] < 160

    # The keyboard (the script waited for Space to stop and play, and for Home to go back to the start).
    assert out["loop_after_l"] is True
    assert out["typing_r_space"] == {"recording": 0.0, "playing": True, "said": []}  # text in a name field
    assert "click a slot's name to select it" in out["delete_unselected"]
    assert out["slots_after_delete"] == [] and out["slots_after_undo"] == ["Gain"]
    assert out["help_rows"] >= 8
    assert out["help_cut"] == []  # every line of the shortcut list inside its window (a new user found them cut)
    # A slot dragged with the mouse onto another strip moved there; Ctrl+Z brought it back.
    assert out["dragged"] == {"loud": ["Gain"], "quiet": [], "label": "move Gain to track 'loud'"}
    assert out["drag_undone"] == ["Gain"]
    assert out["tracks_after_drag"] == ["quiet", "loud"] and out["tracks_after_undo"] == ["loud", "quiet"]
