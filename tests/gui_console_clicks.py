"""Open the real rack window with the engine playing under JACK and work its faders, knobs and clip lights
with xdotool (drag, Ctrl, wheel, double-click, Ctrl+Z); print what the session, the engine and the window
showed as JSON.

Run under Xvfb by tests/test_gui_console.py, in a process of its own (Dear PyGui's viewport cannot be made
twice in one process). argv: the session file, a folder for screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import dearpygui.dearpygui as dpg
from gui_window import RealWindow


def main(session_path: str, shots: str) -> None:
    real = RealWindow(session_path, "rackhost-console")
    app = real.app
    out: dict = {}

    def until(predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}: {app.engine_state} {app.messages[-3:]}")
            real.frames(1)
            time.sleep(0.01)

    def frames_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            real.frames(1)
            time.sleep(0.01)

    def xdo(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True)

    def point(item: int, x: float, y: float) -> None:
        """Move the pointer to (x, y) inside ``item`` (its own pixels)."""
        left, top = dpg.get_item_rect_min(item)
        xdo("mousemove", "--window", real.window, str(int(left + x)), str(int(top + y)))
        real.frames(3)

    def steps() -> int:
        return len(app.session.history.labels()[0])

    app.restart_engine()
    until(lambda: app.engine is not None and app.engine.alive, "the engine to start")
    app.play()
    until(lambda: app.engine.stats().get("position", 0) > 1.0 * 48000, "a second of playback")
    loud, quiet = app.strips
    until(lambda: loud.meter.clipped, "the loud track's clip light")
    frames_for(0.3)
    # What the quiet track's meter draws: its bars' tops and peak-hold lines, in the meter's pixels.
    meter = quiet.meter
    out["quiet_meter"] = {
        "height": meter.height,
        "bars": [dpg.get_item_configuration(c)["pmax"][1] for c in meter.covers],
        "holds": [dpg.get_item_configuration(h)["p1"][1] for h in meter.hold_lines],
        "clipped": meter.clipped,
    }
    dpg.output_frame_buffer(file=os.path.join(shots, "console-playing.png"))
    real.frames(3)

    # Drag the loud track's fader cap down 60 pixels: one undo step, the engine follows.
    fader = loud.fader
    before = steps()
    out["fader_start"] = app.session.tracks[0].gain_db
    x, y = fader.groove_x, fader.y_of(fader.db)
    point(fader.drawlist, x, y)
    xdo("mousedown", "1")
    real.frames(3)
    for dy in range(10, 61, 10):
        point(fader.drawlist, x, y + dy)
    xdo("mouseup", "1")
    real.frames(4)
    out["fader_travel"] = fader.travel
    out["after_drag"] = {"gain": app.session.tracks[0].gain_db, "new_steps": steps() - before,
                         "label": app.session.history.labels()[0][-1], "shown": dpg.get_value(loud.gain_text)}
    frames_for(1.0)  # no sample reaches full scale any more: the light stays lit all the same
    out["clip_after_drag"] = loud.meter.clipped
    real.click(loud.meter.clip)
    until(lambda: not loud.meter.clipped, "the clip light to go out after a click")
    frames_for(1.0)
    out["clip_after_click"] = loud.meter.clipped

    xdo("key", "--window", real.window, "ctrl+z")
    real.frames(8)
    loud = app.strips[0]
    out["after_undo"] = app.session.tracks[0].gain_db
    until(lambda: loud.meter.clipped, "the engine to play the restored gain (it clips again)")

    # Double-click: 0 dB; the wheel: 1 dB a notch, 0.1 dB with Ctrl.
    fader = loud.fader
    point(fader.drawlist, fader.groove_x, fader.y_of(fader.db))
    xdo("click", "--repeat", "2", "--delay", "60", "1")
    real.frames(6)
    out["after_double_click"] = app.session.tracks[0].gain_db
    point(fader.drawlist, fader.groove_x, fader.y_of(fader.db))
    xdo("click", "4")
    real.frames(4)
    out["after_wheel_up"] = app.session.tracks[0].gain_db
    xdo("keydown", "ctrl")
    real.frames(2)
    xdo("click", "5")
    real.frames(4)
    xdo("keyup", "ctrl")
    real.frames(2)
    out["after_fine_wheel_down"] = app.session.tracks[0].gain_db
    point(app.strips[1].pan, 20, 20)  # the strips were rebuilt by the undo
    xdo("click", "--repeat", "2", "--delay", "60", "1")
    real.frames(6)
    out["pan_after_double_click"] = app.session.tracks[1].pan
    # A drag up turns the knob right, as its tooltip says: 40 px is half its travel (0.5).
    knob = app.strips[1].pan
    before = steps()
    point(knob, 20, 20)
    xdo("mousedown", "1")
    real.frames(3)
    for dy in range(5, 41, 5):
        point(knob, 20, 20 - dy)
        real.frames(1)
    xdo("mouseup", "1")
    real.frames(4)
    out["pan_after_drag_up"] = {"pan": app.session.tracks[1].pan, "new_steps": steps() - before,
                                "shown": dpg.get_value(app.strips[1].pan_text)}

    # The keyboard: Space stops and plays, Home goes to the start, L loops; a letter typed into a name is text.
    def key(name: str) -> None:
        xdo("key", "--window", real.window, name)
        real.frames(4)

    def stats(field: str) -> float:
        return app.engine.stats().get(field, 0.0)

    key("space")
    until(lambda: not app.playing, "Space to stop the transport")
    key("space")
    until(lambda: app.playing and stats("position") > 1.5 * 48000, "Space to play again, past 1.5 s")
    key("Home")
    until(lambda: stats("position") < 1.0 * 48000, "Home to go back to the start")
    key("l")
    out["loop_after_l"] = dpg.get_value(app.loop)
    real.click(app.strips[1].name)
    real.type("r ")
    frames_for(0.3)
    out["typing_r_space"] = {"recording": stats("recording"), "playing": app.playing,
                             "said": [m for m in app.messages if "arm a track" in m]}
    key("Escape")
    key("Delete")  # nothing selected yet: it says how to select
    out["delete_unselected"] = app.messages[-1]
    real.click(app.strips[1].slot_buttons[0])  # selects the slot (and opens its panel)
    key("Delete")
    out["slots_after_delete"] = [s.name for s in app.session.tracks[1].chain]
    key("ctrl+z")
    out["slots_after_undo"] = [s.name for s in app.session.tracks[1].chain]
    # Drag the quiet track's slot onto the loud track's "+ plug-in": it moves there, one undo step.
    for panel in list(app.panels):
        panel.close()
    real.frames(3)
    def drag(source: int, target: int) -> None:
        """Press on ``source``, move in steps onto ``target``, let go: a real drag and drop."""
        (sx, sy), (sw, sh) = dpg.get_item_rect_min(source), dpg.get_item_rect_size(source)
        (tx, ty), (tw, th) = dpg.get_item_rect_min(target), dpg.get_item_rect_size(target)
        start, end = (sx + sw / 2, sy + sh / 2), (tx + tw / 2, ty + th / 2)
        xdo("mousemove", "--window", real.window, str(int(start[0])), str(int(start[1])))
        real.frames(3)
        xdo("mousedown", "1")
        real.frames(3)
        for step in range(1, 9):
            x = start[0] + (end[0] - start[0]) * step / 8
            y = start[1] + (end[1] - start[1]) * step / 8
            xdo("mousemove", "--window", real.window, str(int(x)), str(int(y)))
            real.frames(2)
        xdo("mouseup", "1")
        real.frames(6)

    drag(app.strips[1].slot_buttons[0], app.strips[0].add_slot)
    out["dragged"] = {"loud": [s.name for s in app.session.tracks[0].chain],
                      "quiet": [s.name for s in app.session.tracks[1].chain],
                      "label": app.session.history.labels()[0][-1]}
    key("ctrl+z")
    out["drag_undone"] = [s.name for s in app.session.tracks[1].chain]
    drag(app.strips[1].grip, app.strips[0].grip)  # the quiet track's grip onto the loud one's: it goes first
    out["tracks_after_drag"] = [t.name for t in app.session.tracks]
    key("ctrl+z")
    out["tracks_after_undo"] = [t.name for t in app.session.tracks]

    shortcuts = app.shortcuts.show_list()
    real.frames(3)
    out["help_rows"] = len(dpg.get_item_children(dpg.get_item_children(shortcuts, 1)[0], 1))
    right = dpg.get_item_pos(shortcuts)[0] + dpg.get_item_width(shortcuts)
    texts = [cell for row in dpg.get_item_children(dpg.get_item_children(shortcuts, 1)[0], 1)
             for cell in dpg.get_item_children(row, 1)]
    out["help_cut"] = [dpg.get_value(t) for t in texts if dpg.get_item_rect_max(t)[0] > right]

    app.set_narrow(True)
    real.frames(6)
    out["narrow_width"] = dpg.get_item_rect_size(app.strips[0].root)[0]
    dpg.output_frame_buffer(file=os.path.join(shots, "console-narrow.png"))
    real.frames(3)
    print(json.dumps(out))
    app.close()
    real.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
