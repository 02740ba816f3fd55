"""What a new user meets in the first minutes, in a real window under Xvfb: where the window opens and that it
opens there again; Space and Home with no audio engine say why nothing moved; long names cut with ".."; the
+ track and + bus buttons on one line; a send's level readable beside its handle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rackhost.gui.placement import Place, opening_place

TESTS = Path(__file__).resolve().parent


def _xvfb(script: str, *args: str, screen: str = "1600x900", config: Path, timeout: float = 300) -> dict:
    assert shutil.which("xvfb-run") and shutil.which("xdotool"), "make setup installs xvfb and xdotool"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]),
               RACKHOST_CONFIG_DIR=str(config), JACK_NO_START_SERVER="1")
    run = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", sys.executable, script, *args],
                         capture_output=True, text=True, timeout=timeout, cwd=TESTS, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# -- where the window opens -------------------------------------------------------------------------------------

def test_the_window_opens_centred_then_where_and_as_large_as_it_was_last_closed(tmp_path):
    first = _xvfb("gui_place_run.py", "[300, 120, 1100, 640]", "null", config=tmp_path)
    assert first["opened"] == [160, 90, 1280, 720]  # centred on the 1600x900 screen, not at 100,100
    assert first["before_quit"] == [300, 120, 1100, 640]  # moved and resized by the user
    assert first["remembered"]["format_version"] == 1 and (tmp_path / "window.json").exists()
    again = _xvfb("gui_place_run.py", "null", "null", config=tmp_path)
    assert again["opened"] == [300, 120, 1100, 640]
    asked = _xvfb("gui_place_run.py", "null", "[800, 500]", config=tmp_path)  # --size 800x500 wins over it
    assert asked["opened"] == [300, 120, 800, 500]


def test_a_remembered_place_off_the_screen_now_comes_back_onto_it(tmp_path):
    (tmp_path / "window.json").write_text(json.dumps({"format": "rackhost-window-place", "format_version": 1,
                                                      "x": 2400, "y": 1300, "width": 1280, "height": 720}))
    opened = _xvfb("gui_place_run.py", "null", "null", config=tmp_path)["opened"]  # a monitor since unplugged
    assert opened == [1600 - 1280, 900 - 720, 1280, 720]


@pytest.mark.parametrize("text", ["{", '{"format_version": 99, "x": 1}', '{"format_version": 1, "x": "left"}', "[]"])
def test_a_damaged_or_newer_place_file_opens_centred(tmp_path, monkeypatch, text):
    from rackhost.gui.placement import remember, remembered

    (tmp_path / "window.json").write_text(text)
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(tmp_path))
    assert remembered() is None
    remember(Place(1, 2, 1000, 700))
    if "99" in text:  # a newer rackhost's file is left as it was
        assert (tmp_path / "window.json").read_text() == text
    else:  # a damaged one is written anew
        assert remembered() == Place(1, 2, 1000, 700)


def test_opening_place_fits_the_screen_and_keeps_an_asked_size():
    assert opening_place(None, None, (1600, 900)) == Place(160, 90, 1280, 720)
    assert opening_place(None, None, (1024, 600)) == Place(20, 20, 984, 560)  # a small screen: made to fit
    assert opening_place((1920, 1080), None, (1024, 600)) == Place(0, 0, 1920, 1080)  # asked for: kept
    assert opening_place(None, Place(-500, 50, 1000, 700), (1600, 900)) == Place(0, 50, 1000, 700)
    assert opening_place(None, Place(10, 20, 1000, 700), None) == Place(10, 20, 1000, 700)  # no screen known
    assert opening_place(None, None, None) == Place(40, 40, 1280, 720)
