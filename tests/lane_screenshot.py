"""Screenshot of the timeline with an automation lane: ``python lane_screenshot.py SESSION OUT.png [WxH]`` (under
Xvfb, no engine).

The first track's fader lane opens under the timeline's ruler with a ride drawn (down, a smooth rise, a
step), the loop range set and the playhead placed, as a user would see it while playing; the overview shows
the session's file tracks (the worker's peaks are waited for)."""

from __future__ import annotations

import sys
import time

from rackhost.chain.automation import StripTarget
from rackhost.gui import app as gui


def _lane(app: gui.RackApp) -> None:
    lane = app.open_lane(0, StripTarget("gain_db"))
    for seconds, db in ((1.0, -6.0), (1.6, -24.0), (2.6, -10.0), (3.2, -30.0)):
        lane.add(seconds, db)
    lane.selected = 2
    lane.set_shape("smooth")
    lane.selected = 3
    lane.set_shape("step")
    app.timeline.loop_to(1.0, 3.0, True)
    app.transport = (int(2.2 * app.session.sample_rate), False)
    lane.playhead = 2.2
    deadline = time.monotonic() + 60
    for track in app.session.tracks:  # the overview's peaks are read on a worker: wait for them
        if getattr(track.source, "path", None) is not None:
            while app.timeline.cache.get(track.source.path) is None and time.monotonic() < deadline:
                time.sleep(0.05)


if __name__ == "__main__":
    gui.VIEWS["lane"] = _lane
    width, height = (int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "1920x1080").split("x"))
    gui.run(sys.argv[1], screenshot=sys.argv[2], frames=30, start_engine=False, width=width, height=height,
            view="lane", recover=False)
