"""The demo session as a console at three window sizes (busses, sends, a fader lane open under the timeline),
written to build/screenshots/ to be looked at (RACKHOST_SCREENSHOTS: another folder) and shown in README."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from rackhost.cli import demo
from rackhost.presets import save_session

SHOTS = Path(os.environ.get("RACKHOST_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "build" / "screenshots")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    session = demo.build_demo_session(folder)
    path = folder / demo.SESSION_NAME
    save_session(session, path)
    return path


def _png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


# The screenshots run in make test's parallel pass, in its window group: they only render (no engine, no clicks;
# xdotool only moves the pointer off the controls), so nothing they assert depends on time.
@pytest.mark.beside_others
@pytest.mark.parametrize("size", ["1280x720", "1920x1080", "2560x1440"])
def test_the_demo_session_as_a_console_at_three_sizes(demo_file, size):
    assert shutil.which("xvfb-run"), "make setup installs xvfb"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"console-{size.split('x')[0]}.png"
    shot.unlink(missing_ok=True)
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", sys.executable,
                          str(tests / "console_screenshot.py"), str(demo_file), str(shot), size],
                         check=False, capture_output=True, text=True, timeout=300, env=env, cwd=tests)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == tuple(int(v) for v in size.split("x"))
    assert shot.stat().st_size > 50_000  # strips, waveforms and a lane, not a blank frame
    out = json.loads(run.stdout.strip().splitlines()[-1])
    faders = out["faders"]
    assert set(faders) == {"drums", "bass", "pad", "voice", "drum bus", "music bus", "reverb", "master"}
    # Even at 1280x720 with a lane open, every fader keeps a travel a hand can use (the headers are packed).
    # (2560x1440: 470, not 500, since a send's level is a line of words over its slider, not text under its handle.)
    least = {"1280x720": 70, "1920x1080": 250, "2560x1440": 470}[size]
    assert min(faders.values()) >= least, faders
    # The four demo files each keep a row of the overview at every size (thin, their names along the top, in a
    # short window): drawn over each other they were one smear.
    assert out["overview"]["rows"] and out["overview"]["named_rows"] == (size != "1280x720"), out["overview"]
    # The text grows with the window: Dear PyGui's own 13-pixel font up to 1920x1080; at 2560x1440 the window
    # draws at 4/3, in a TrueType font loaded at 17 pixels (the readout's line as tall, and as long, as that).
    width, height = out["text"]["readout"]
    if size == "2560x1440":
        assert out["text"]["scale"] == pytest.approx(4 / 3) and height == 17 and width >= 1.2 * 168, out["text"]
    else:
        assert out["text"] == {"scale": 1.0, "readout": [168, 13]}


@pytest.mark.beside_others  # only renders, as above
def test_the_demo_session_with_narrow_strips_at_1280x720(demo_file):
    """View > Narrow strips: more strips in view, each still with its fader's travel (docs/narrow.png)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "console-narrow-1280.png"
    shot.unlink(missing_ok=True)
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable,
                          str(tests / "console_screenshot.py"), str(demo_file), str(shot), "1280x720", "narrow"],
                         check=False, capture_output=True, text=True, timeout=300, env=env, cwd=tests)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == (1280, 720) and shot.stat().st_size > 50_000
    faders = json.loads(run.stdout.strip().splitlines()[-1])["faders"]
    # No lane: the strips have the height (147 pixels of travel since the pan knob's value went under it, 163
    # before, when the knob was clipped beside a track's mon switch).
    assert len(faders) == 8 and min(faders.values()) >= 140, faders


def test_resizing_the_window_switches_the_text_size_and_back(demo_file):
    """Resized by the window system (xdotool) from 1280x720 to 2560x1440, 1920x1080 and back: the label's text,
    the strips and the faders follow each size, and a return to a size draws as it first did."""
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 2560x1440x24", sys.executable,
                          str(tests / "console_resize.py"), str(demo_file)],
                         check=False, capture_output=True, text=True, timeout=300, env=env, cwd=tests)
    assert run.returncode == 0, run.stderr[-2000:]
    sizes = json.loads(run.stdout.strip().splitlines()[-1])
    assert [s["viewport"] for s in sizes.values()] == [[1280, 720], [2560, 1440], [1920, 1080], [1280, 720]]
    small, big, full, again = sizes.values()
    assert [s["scale"] for s in sizes.values()] == [1.0, pytest.approx(4 / 3), 1.0, 1.0]
    assert small["text"][1] == full["text"][1] == 13 and big["text"][1] == 17
    assert big["text"][0] > 1.2 * full["text"][0] and big["name"][1] > full["name"][1]  # a field grows too
    assert big["strip"] > full["strip"] and big["fader"] > full["fader"] > small["fader"]
    assert again == small


def test_a_window_scale_is_a_step_the_window_holds_1920x1080_at():
    from rackhost.gui.scale import factor_for
    assert factor_for(1280, 720) == factor_for(1920, 1080) == factor_for(2399, 1349) == 1.0
    assert factor_for(2559, 1439) == 1.25  # a step under 2560x1440
    assert factor_for(2560, 1440) == pytest.approx(4 / 3)
    assert factor_for(2560, 1080) == 1.0  # as wide as it likes: the height holds it at 1x
    assert factor_for(3840, 2160) == 2.0 and factor_for(7680, 4320) == 2.0
    assert factor_for(2400, 1350) == 1.25


def test_strips_widen_to_fill_a_big_window_and_keep_their_width_in_a_small_one():
    from rackhost.chain.session import Session
    from rackhost.gui.strip import SQUEEZED_WIDTH, STRIP_WIDTH, WIDE_WIDTH, StripLayout
    session = Session()
    for name in ("a", "b", "c"):
        session.add_track(name)
    assert StripLayout.of(session).width == STRIP_WIDTH  # no window yet
    assert StripLayout.of(session, room=500).width == STRIP_WIDTH  # too small: the rack scrolls
    assert SQUEEZED_WIDTH <= StripLayout.of(session, room=700).width < STRIP_WIDTH  # a little less: all in view
    assert STRIP_WIDTH < StripLayout.of(session, room=800).width < WIDE_WIDTH
    assert StripLayout.of(session, room=2400).width == WIDE_WIDTH
    assert StripLayout.of(session, narrow=True, room=2400).width < STRIP_WIDTH
