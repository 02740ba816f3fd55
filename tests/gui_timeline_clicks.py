"""Open the real rack window with the engine under JACK and work the timeline with xdotool: the overview's
picture measured against the file's own peaks, a click on the ruler (the engine locates), a drag on it (the
session's loop range, then the engine loops there while playing), Ctrl+Z, and right-click the fader >
Automate (the lane opens under the ruler); print what was seen as JSON, and save a screenshot.

Run under Xvfb by tests/test_gui_timeline.py in a process of its own. argv: the session file, the screenshot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import dearpygui.dearpygui as dpg
import numpy as np
from gui_window import RealWindow

from rackhost.live.commands import Locate


def main(session_path: str, shot: str) -> None:
    real = RealWindow(session_path, "rackhost-timeline", width=1280, height=800)
    app = real.app
    timeline = app.timeline
    rate = app.session.sample_rate
    out: dict = {}

    def until(predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}: {app.engine_state} {app.messages[-3:]}")
            real.frames(1)
            time.sleep(0.01)

    def xdo(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True)
        real.frames(4)

    def to(item: int, x: float, y: float) -> None:
        left, top = dpg.get_item_rect_min(item)
        xdo("mousemove", "--window", real.window, str(int(left + x)), str(int(top + y)))

    def position() -> float:
        return app.engine.stats().get("position", 0.0) / rate

    # The overview: wait for the worker's peaks, then read the picture back from its texture.
    path = app.session.tracks[0].source.path
    until(lambda: timeline.cache.get(path) is not None, "the file's peaks")
    real.frames(4)
    picture = np.array(dpg.get_value(timeline._texture), np.float32)
    height = timeline.overview_height - 2
    picture = picture.reshape(height, timeline.width, 4)
    drawn = picture[:, :, 3] > 0.5
    rows = np.arange(height)[:, None]
    out["overview"] = {"width": timeline.width, "height": height, "span": timeline.seconds,
                       "top": np.where(drawn.any(axis=0), np.where(drawn, rows, height).min(axis=0), -1).tolist(),
                       "bottom": np.where(drawn.any(axis=0), np.where(drawn, rows, -1).max(axis=0), -1).tolist(),
                       "reads": timeline.cache.reads}

    app.restart_engine()
    until(lambda: app.engine is not None and app.engine.alive and app.engine.stats().get("running"),
          "the engine to start")
    # A click on the ruler: the engine's transport goes there (stopped: exactly there).
    to(timeline.ruler, timeline.x_of(3.0), 8)
    xdo("click", "1")
    until(lambda: position() > 2.0, "the engine to locate")
    out["located"] = position()
    out["clicked_at"] = timeline.at_x(round(timeline.x_of(3.0)))
    out["loop_after_click"] = app.session.loop is not None

    # A drag on the ruler: the session's loop range, one undo step, and the engine loops over it.
    steps = len(app.session.history.labels()[0])
    to(timeline.ruler, timeline.x_of(1.0), 30)
    xdo("mousedown", "1")
    to(timeline.ruler, timeline.x_of(1.5), 30)
    to(timeline.ruler, timeline.x_of(2.0), 30)
    xdo("mouseup", "1")
    loop = app.session.loop
    out["loop"] = None if loop is None else [loop.start, loop.end, loop.on]
    out["loop_steps"] = len(app.session.history.labels()[0]) - steps
    out["loop_widgets"] = [dpg.get_value(app.loop), list(dpg.get_value(app.loop_range))[:2]]
    out["position_after_drag"] = position()  # a drag does not locate
    # The loop's end edge dragged from 2 s to 2.5 s: the start stays.
    to(timeline.ruler, timeline.x_of(2.0) + 2, 30)
    xdo("mousedown", "1")
    to(timeline.ruler, timeline.x_of(2.3), 30)
    to(timeline.ruler, timeline.x_of(2.5), 30)
    xdo("mouseup", "1")
    loop = app.session.loop
    out["loop_end_moved"] = None if loop is None else [loop.start, loop.end, loop.on]
    app.send(Locate(int(1.0 * rate)))
    app.play()
    until(lambda: position() < 1.5, "the locate to 1 s")
    seen: list[float] = []
    end = time.monotonic() + 2.5  # longer than the loop: it must have wrapped
    while time.monotonic() < end:
        real.frames(1)
        seen.append(position())
        time.sleep(0.01)
    out["played"] = [min(seen), max(seen)]
    out["playhead_x"] = dpg.get_item_configuration(timeline.playhead)["p1"][0]
    out["playhead_expected"] = timeline.x_of(app.transport[0] / rate)
    xdo("key", "--window", real.window, "ctrl+z")
    out["loop_after_one_undo"] = None if app.session.loop is None else [app.session.loop.start, app.session.loop.end]
    xdo("key", "--window", real.window, "ctrl+z")
    out["loop_undone"] = app.session.loop is not None
    later: list[float] = []
    end = time.monotonic() + 2.5  # from anywhere in the loop, past its farthest end
    while time.monotonic() < end:
        real.frames(1)
        later.append(position())
        time.sleep(0.01)
    out["after_undo_max"] = max(later)
    app.stop()

    # Right-click the fader > Automate: the lane opens under the ruler, on its time axis.
    strip = app.strips[0]
    w, h = dpg.get_item_rect_size(strip.gain)
    to(strip.gain, w / 2, h / 2)
    xdo("click", "3")
    menu = strip.menus["gain"]
    left, top = dpg.get_item_pos(menu)
    xdo("mousemove", "--window", real.window, str(int(left + 30)), str(int(top + 14)), "click", "1")
    real.frames(6)
    lane = app.lanes[0]
    out["lane"] = {
        "ruler": [*dpg.get_item_rect_min(timeline.ruler), *dpg.get_item_rect_size(timeline.ruler)],
        "canvas": [*dpg.get_item_rect_min(lane.canvas), *dpg.get_item_rect_size(lane.canvas)],
        "strip_top": dpg.get_item_rect_min(app.strips[0].gain)[1],  # the strips were rebuilt
        "x_of": [[lane.x_of(t), timeline.x_of(t)] for t in (0.5, 2.0, 5.5)],
    }
    # The lane's editing still works where it now lives: a click adds a point at the time under the pointer.
    to(lane.canvas, lane.x_of(2.0), lane.y_of(-20.0))
    xdo("click", "1")
    envelope = lane.envelope
    out["lane_points"] = [[p.time, round(p.value, 1)] for p in envelope.points] if envelope else None
    real.frames(4)
    dpg.output_frame_buffer(file=shot)
    real.frames(4)
    app.close()
    real.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
