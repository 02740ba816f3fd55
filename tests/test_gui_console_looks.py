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
                         capture_output=True, text=True, timeout=300, env=env, cwd=tests)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == tuple(int(v) for v in size.split("x"))
    assert shot.stat().st_size > 50_000  # strips, waveforms and a lane, not a blank frame
    faders = json.loads(run.stdout.strip().splitlines()[-1])["faders"]
    assert set(faders) == {"drums", "bass", "pad", "voice", "drum bus", "music bus", "reverb", "master"}
    # Even at 1280x720 with a lane open, every fader keeps a travel a hand can use (the headers are packed).
    least = {"1280x720": 70, "1920x1080": 250, "2560x1440": 500}[size]
    assert min(faders.values()) >= least, faders


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
