"""A control that will not answer looks it: Render's Cancel and Keep gain, disabled until a render runs or finds a
gain, are drawn greyed out beside Render and Close, not as buttons that do nothing when clicked.

Real window under Xvfb (a script run in a process of its own), read from its frame buffer.
"""

from __future__ import annotations

import os
from pathlib import Path

from conftest import SR, program_signal
from gui_driver import window_output
from png_pixels import read_png

from rackhost.chain import Session
from rackhost.presets import save_session

WINDOW = r"""
import json, sys
import dearpygui.dearpygui as dpg
from gui_window import RealWindow
from rackhost.gui import app as gui

real = RealWindow(sys.argv[1], "rackhost-disabled")
dialog = gui.VIEWS["render"](real.app)
real.frames(8)
dpg.output_frame_buffer(file=sys.argv[2])
real.frames(4)
buttons = {name: [*dpg.get_item_rect_min(item), *dpg.get_item_rect_size(item)]
           for name, item in (("render", dialog.render_button), ("cancel", dialog.cancel_button),
                              ("keep", dialog.keep_button))}
enabled = {name: dpg.get_item_configuration(item)["enabled"]
           for name, item in (("render", dialog.render_button), ("cancel", dialog.cancel_button),
                              ("keep", dialog.keep_button))}
print(json.dumps({"buttons": buttons, "enabled": enabled}))
real.close()
"""


def test_renders_disabled_cancel_and_keep_gain_look_greyed_out_beside_render(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav"))
    path = tmp_path / "song.json"
    save_session(session, path)
    shots = Path(os.environ.get("RACKHOST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "render-dialog-disabled-buttons.png"
    out = window_output("-c", WINDOW, path, shot)
    assert out["enabled"] == {"render": True, "cancel": False, "keep": False}
    pixels = read_png(shot)[:, :, :3].astype(int)

    def brightest_text(name: str) -> int:
        """The brightest pixel of a button's label: its text colour (the frame is darker)."""
        x, y, w, h = (int(v) for v in out["buttons"][name])
        return int(pixels[y:y + h, x:x + w].sum(axis=2).max())

    bright = brightest_text("render")
    assert bright > 3 * 180  # the window's text colour
    for name in ("cancel", "keep"):
        assert brightest_text(name) < 0.65 * bright, (name, brightest_text(name), bright)
