"""A real rack window for scripts that drive it with xdotool under Xvfb (run in a process of their own)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

import dearpygui.dearpygui as dpg

from rackhost.chain import Session
from rackhost.gui.app import RackApp
from rackhost.gui.loader import PluginLoader


class RealWindow:
    """The app on a session, with the real plug-in thread, at the top left of the virtual screen."""

    def __init__(self, session_path: str | Path, title: str, width: int = 1280, height: int = 720):
        self.loader = PluginLoader()
        self.app = RackApp(Session(), None, start_engine=False, loader=self.loader)
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        dpg.create_viewport(title=title, width=width, height=height, x_pos=0, y_pos=0)
        self.app.build()
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.app.files.open(Path(session_path))
        self.settle()
        self.window = subprocess.check_output(["xdotool", "search", "--name", title], text=True).split()[0]

    def frames(self, count: int) -> None:
        for _ in range(count):
            self.app.frame()
            dpg.render_dearpygui_frame()
            dpg.run_callbacks(dpg.get_callback_queue())

    def settle(self, busy: Callable[[], bool] = lambda: False) -> None:
        """Render until nothing loads and ``busy()`` is false, then a few frames more."""
        while self.app.files.loading or self.loader.pending or busy():
            self.frames(1)
            time.sleep(0.02)
        self.frames(4)

    def click(self, item: int) -> None:
        """A real click in the middle of ``item``."""
        x, y = dpg.get_item_rect_min(item)
        w, h = dpg.get_item_rect_size(item)
        subprocess.run(["xdotool", "mousemove", "--window", self.window, str(int(x + w / 2)), str(int(y + h / 2)),
                        "click", "1"], check=True)
        self.frames(6)

    def xdo(self, *args: str, frames: int = 6) -> None:
        """``xdotool *args`` (window-relative where ``--window`` is given ``self.window``), then ``frames`` frames."""
        subprocess.run(["xdotool", *args], check=True)
        self.frames(frames)

    def move_to(self, item: int, x: float, y: float) -> None:
        """The pointer to (``x``, ``y``) inside ``item``, in its own pixels."""
        left, top = dpg.get_item_rect_min(item)
        self.xdo("mousemove", "--window", self.window, str(int(left + x)), str(int(top + y)))

    def right_click(self, item: int) -> None:
        w, h = dpg.get_item_rect_size(item)
        self.move_to(item, w / 2, h / 2)
        self.xdo("click", "3")

    def click_first_menu_row(self, menu: int) -> None:
        """A real click on the first row of the open popup ``menu`` (a menu item reports no rectangle)."""
        left, top = dpg.get_item_pos(menu)
        self.xdo("mousemove", "--window", self.window, str(int(left + 30)), str(int(top + 14)), "click", "1")

    def start_engine(self, device: object, timeout: float = 90.0) -> None:
        """The window's engine restarted on ``device`` with no input (file tracks play), waited for."""
        self.app.restart_engine(device=device, input_channels=0)
        deadline = time.monotonic() + timeout
        while self.app.engine is None or not self.app.engine.alive:
            if time.monotonic() > deadline:
                raise SystemExit(f"the engine did not start within {timeout:g} s: {self.app.messages[-3:]}")
            self.frames(1)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        subprocess.run(["xdotool", "type", "--window", self.window, "--delay", "30", text], check=True)
        self.frames(12)

    def close(self) -> None:
        self.loader.close()
        dpg.destroy_context()
