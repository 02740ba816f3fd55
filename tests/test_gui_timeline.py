"""The timeline above the strips: in the real window under Xvfb with the engine under JACK, worked with real
input events (xdotool): the overview drawn from the file's own peaks, a click on the ruler locating the
engine, a drag setting the session's loop range (and the engine looping there), an automation lane opened
from a fader showing under the ruler on its time axis. In process: the loop range as a session value (one
undo step, saved in the file), the lanes' home."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR
from gui_driver import steps

from rackhost.chain import Session
from rackhost.chain.automation import StripTarget
from rackhost.chain.session import LoopRange
from rackhost.gui.waveform import read_peaks
from rackhost.presets import load_session, save_session

LOUD, QUIET = 0.8, 0.2  # the file's two halves: the overview's columns must show the difference


def _tone() -> np.ndarray:
    t = np.arange(6 * SR) / SR
    amplitude = np.where(t < 3.0, LOUD, QUIET)
    tone = (amplitude * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    return np.vstack([tone, tone])


@pytest.fixture
def session_file(tmp_path, wav_file) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("tone", wav_file(_tone(), "tone.wav"), gain_db=-6.0)
    path = tmp_path / "timeline.json"
    save_session(session, path)
    return path


def test_the_timeline_works_with_real_clicks_and_drags_in_the_window(jack_server, session_file, tmp_path):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    tests = Path(__file__).parent
    shot = Path(os.environ.get("RACKHOST_SHOTS", tmp_path)) / "timeline-clicks.png"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)]))
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                          str(tests / "gui_timeline_clicks.py"), str(session_file), str(shot)],
                         capture_output=True, text=True, timeout=300, cwd=tests, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    # The overview's columns reach as high and as low as the file's own peaks in each column's time.
    view = out["overview"]
    width, height, span = view["width"], view["height"], view["span"]
    assert span == pytest.approx(6.0, abs=0.01)
    peaks = read_peaks(session_file.parent / "tone.wav")
    lows, highs = peaks.columns(span, width)
    for column in range(2, width - 2):
        expected_top = np.floor((1 - highs[column]) / 2 * (height - 1))
        expected_bottom = np.ceil((1 - lows[column]) / 2 * (height - 1))
        assert view["top"][column] == expected_top and view["bottom"][column] == expected_bottom, column
    loud = view["bottom"][width // 4] - view["top"][width // 4]
    quiet = view["bottom"][3 * width // 4] - view["top"][3 * width // 4]
    assert loud == pytest.approx(LOUD * (height - 1), abs=2) and quiet == pytest.approx(QUIET * (height - 1), abs=2)
    assert view["reads"] == 1  # read once, however many frames drew it

    # A click on the ruler at 3 s: the engine's transport is there, and no loop was made.
    assert out["located"] == pytest.approx(out["clicked_at"], abs=256 / SR)
    assert out["located"] == pytest.approx(3.0, abs=0.02)
    assert not out["loop_after_click"]

    # A drag from 1 s to 2 s: the session's loop range (snapped), one undo step, the transport's fields show it,
    # the transport stays where it was, and playback wraps inside it.
    assert out["loop"] == [1.0, 2.0, True]
    assert out["loop_steps"] == 1
    assert out["loop_widgets"][0] is True and out["loop_widgets"][1] == pytest.approx([1.0, 2.0])
    assert out["position_after_drag"] == pytest.approx(out["located"], abs=256 / SR)
    # A drag that starts on the loop's end edge moves that edge; the start stays where it was.
    assert out["loop_end_moved"] == [1.0, 2.5, True]
    low, high = out["played"]
    assert low >= 1.0 - 0.01 and high <= 2.5 + 512 / SR  # looped (whole blocks), never past the end
    assert high > 2.0  # over the moved edge's range, not the first one's
    assert abs(out["playhead_x"] - out["playhead_expected"]) < 1.0
    # Ctrl+Z: the edge back, then no loop at all; the engine follows the session and plays on past 2.5 s.
    assert out["loop_after_one_undo"] == [1.0, 2.0]
    assert not out["loop_undone"]
    assert out["after_undo_max"] > 2.6

    # The lane opened from the fader: under the ruler, above the strips, the ruler's width and time axis.
    lane = out["lane"]
    ruler_x, ruler_y, ruler_w, ruler_h = lane["ruler"]
    canvas_x, canvas_y, canvas_w, _ = lane["canvas"]
    assert canvas_y > ruler_y + ruler_h and canvas_y < lane["strip_top"]
    assert canvas_x == ruler_x and canvas_w == ruler_w
    for lane_x, ruler_x_of in lane["x_of"]:
        assert lane_x == pytest.approx(ruler_x_of)
    assert out["lane_points"][1][0] == 2.0 and out["lane_points"][1][1] == pytest.approx(-20.0, abs=1.0)
    assert shot.stat().st_size > 10_000


def test_the_loop_range_is_the_sessions_one_undo_step_and_saved_with_it(app, tmp_path):
    before = steps(app)
    assert app.timeline.loop_to(1.0, 2.5, True)
    assert app.session.loop == LoopRange(1.0, 2.5, True) and steps(app) == before + 1
    app.timeline.update()
    assert dpg.get_value(app.loop) is True and list(dpg.get_value(app.loop_range))[:2] == [1.0, 2.5]
    dpg.set_value(app.loop_range, [0.5, 2.5, 0.0, 0.0])  # the transport's own fields write the session too
    app.set_loop(False)
    assert app.session.loop == LoopRange(0.5, 2.5, False)
    save_session(app.session, tmp_path / "saved.json")
    assert load_session(tmp_path / "saved.json").loop == LoopRange(0.5, 2.5, False)
    app.undo()
    app.undo()
    assert app.session.loop is None
    assert not app.timeline.loop_to(2.0, 1.0, True)  # an empty range is refused and said
    assert app.session.loop is None and "end (1.0 s) must come after its start (2.0 s)" in app.messages[-1]


def test_an_automation_lane_lives_under_the_timelines_ruler_not_in_a_window_of_its_own(app):
    lane = app.open_lane(0, StripTarget("gain_db"))
    assert dpg.get_item_parent(lane.window) == app.timeline.lanes
    assert lane.x_of(3.0) == app.timeline.x_of(3.0)
    lane.close()
    assert not lane.alive
    assert app.open_lane(0, StripTarget("gain_db")) is not lane  # hidden, shown again: the envelope stayed
    assert len(app.session.tracks[0].automation) == 1


def test_an_older_session_file_without_a_loop_opens_with_none(tmp_path, session_file):
    doc = json.loads(session_file.read_text())
    del doc["loop"]
    doc["format_version"] = 7
    (tmp_path / "v7.json").write_text(json.dumps(doc))
    assert load_session(tmp_path / "v7.json").loop is None


def _drawn_extents(app) -> tuple[list[int], list[int]]:
    """Each column's first and last painted row in the overview's texture (-1: none)."""
    timeline = app.timeline
    height = timeline.overview_height - 2
    picture = np.array(dpg.get_value(timeline._texture), np.float32).reshape(height, timeline.width, 4)
    drawn = picture[:, :, 3] > 0.5
    rows = np.arange(height)[:, None]
    tops = np.where(drawn.any(axis=0), np.where(drawn, rows, height).min(axis=0), -1)
    bottoms = np.where(drawn.any(axis=0), np.where(drawn, rows, -1).max(axis=0), -1)
    return tops.tolist(), bottoms.tolist()


def test_without_file_tracks_the_overview_shows_the_masters_last_render(app, tmp_path):
    from rackhost.gui.render_dialog import RenderDialog
    from rackhost.gui.timeline import RENDER_COLOR

    dialog = RenderDialog(app)
    out = tmp_path / "mix.wav"
    dpg.set_value(dialog.path, str(out))
    assert dialog.render() is not None
    assert dialog.task.wait(120)
    dialog.poll()
    assert app.last_render == out
    app.remove_track(0)  # no file track left: the master's bounce is what the overview can show
    timeline = app.timeline
    deadline = time.monotonic() + 30
    while timeline.cache.get(out) is None:
        assert time.monotonic() < deadline, "the render's peaks were never read"
        time.sleep(0.02)
    timeline.update()
    assert timeline.legend == [("master (last render: mix.wav)", RENDER_COLOR)]
    found = read_peaks(out)
    assert timeline.seconds == pytest.approx(found.seconds)
    lows, highs = found.columns(timeline.seconds, timeline.width)
    height = timeline.overview_height - 2
    tops, bottoms = _drawn_extents(app)
    for column in range(1, timeline.width - 1):
        assert tops[column] == np.floor((1 - highs[column]) / 2 * (height - 1)), column
        assert bottoms[column] == np.ceil((1 - lows[column]) / 2 * (height - 1)), column


def test_a_refused_loop_range_is_said_with_the_loop_kept_and_the_transport_shows_that_loop_again(app):
    assert app.timeline.loop_to(1.0, 2.5, True)
    app.timeline.update()
    dpg.set_value(app.loop_range, [5.0, 2.0, 0.0, 0.0])  # typed into the transport: an end before the start
    app.set_loop(True)
    assert app.session.loop == LoopRange(1.0, 2.5, True)
    assert app.messages[-1] == "the loop's end (2.0 s) must come after its start (5.0 s); the loop stays at 1.0-2.5 s"
    app.timeline.update()
    assert list(dpg.get_value(app.loop_range))[:2] == [1.0, 2.5] and dpg.get_value(app.loop) is True
    app.undo()  # no loop at all: the switch ticked with a reversed range is unticked again
    app.timeline.update()
    dpg.set_value(app.loop_range, [5.0, 2.0, 0.0, 0.0])
    dpg.set_value(app.loop, True)
    app.set_loop(True)
    app.timeline.update()
    assert app.session.loop is None and dpg.get_value(app.loop) is False
    assert app.messages[-1] == "the loop's end (2.0 s) must come after its start (5.0 s)"
