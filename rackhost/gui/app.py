"""The rack window: a strip per track and the master, a transport, a status bar.

The frame loop is the GUI's own: Dear PyGui's callbacks run on this thread
(manual callback management), the engine's meters are read from shared
memory once a frame, and nothing here can block the audio, which runs in the
engine process. Without an audio device the window still opens and says so.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from rackhost.chain import Session
from rackhost.chain.live.process import EngineProcess, EngineProcessError
from rackhost.gui.strip import STRIP_WIDTH, StripView
from rackhost.gui.theme import apply_theme

TITLE = "rackhost"


class RackApp:
    def __init__(self, session: Session, session_path: Path | None, *, start_engine: bool = True):
        self.session = session
        self.session_path = session_path
        self.engine: EngineProcess | None = None
        self.engine_state = "offline"
        self.strips: list[StripView] = []
        self.master: StripView | None = None
        self.device: Any = None
        if start_engine and session_path is not None:
            self.engine_state = "starting the audio engine..."
            # Loading plug-ins in the engine can take a while: never on the GUI thread.
            threading.Thread(target=self._start_engine, name="rackhost-engine-start", daemon=True).start()

    # -- engine -----------------------------------------------------------------------

    def _start_engine(self) -> None:
        engine = EngineProcess(self.session_path, device=self.device,  # type: ignore[arg-type]
                               block_size=self.session.block_size)
        try:
            engine.start()
        except EngineProcessError as err:
            self.engine_state = f"no audio: {err} (offline work still works)"
            return
        self.engine = engine
        self.engine_state = "engine running"

    def send(self, *command: Any) -> None:
        if self.engine is not None and self.engine.alive:
            self.engine.send(*command)

    def restart_engine(self, *, device: Any = None, block_size: int | None = None,
                       sample_rate: int | None = None) -> None:
        """Start the engine again (after it died, or with new device settings), off the GUI thread."""
        if sample_rate:
            self.session.sample_rate = sample_rate
        if block_size:
            self.session.block_size = block_size
        self.device = device
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        self.engine_state = "starting the audio engine..."
        threading.Thread(target=self._start_engine, name="rackhost-engine-start", daemon=True).start()

    # -- the model --------------------------------------------------------------------

    def owner(self, track: int | None) -> Any:
        """The track at ``track``, or the master for None."""
        return self.session.master if track is None else self.session.tracks[track]

    def structure_changed(self) -> None:
        """The model's structure changed (slots, tracks, a preset, undo): redraw the rack and resync the engine."""
        self._build_strips()

    # -- building ---------------------------------------------------------------------

    def build(self) -> int:
        apply_theme()
        with dpg.window(label=TITLE, no_title_bar=True, no_move=True, no_resize=True) as self.window:
            with dpg.menu_bar():
                with dpg.menu(label="Transport"):
                    dpg.add_menu_item(label="Play", callback=lambda: self.send("play"))
                    dpg.add_menu_item(label="Stop", callback=lambda: self.send("stop"))
                with dpg.menu(label="Edit"):
                    dpg.add_menu_item(label="Undo", callback=self.undo)
                    dpg.add_menu_item(label="Redo", callback=self.redo)
            with dpg.group(horizontal=True) as self.transport:
                dpg.add_button(label="Play", width=70, callback=lambda: self.send("play"))
                dpg.add_button(label="Stop", width=70, callback=lambda: self.send("stop"))
                self.position = dpg.add_text("0.0 s")
                sr, block = self.session.sample_rate, self.session.block_size
                dpg.add_text(f"   {sr} Hz, block {block}", color=(140, 144, 152))
            dpg.add_separator()
            with dpg.child_window(height=-30, horizontal_scrollbar=True, border=False) as rack:
                with dpg.group(horizontal=True) as self.rack:
                    pass
            self.status = dpg.add_text("", color=(140, 144, 152))
        self._build_strips()
        dpg.set_primary_window(self.window, True)
        return rack

    def _build_strips(self) -> None:
        dpg.delete_item(self.rack, children_only=True)
        self.strips = []
        for index, track in enumerate(self.session.tracks):
            kind = f"in {'+'.join(str(c + 1) for c in track.input)}" if track.input else "file"
            view = StripView(self.rack, track, f"{track.name}  ({kind})",
                             lambda what, *args, i=index: self.change(i, what, *args))
            self.strips.append(view)
        self.master = StripView(self.rack, self.session.master, "MASTER",
                                lambda what, *args: self.change(None, what, *args), is_master=True)

    # -- changes ------------------------------------------------------------------------

    def change(self, track: int | None, what: str, *args: Any) -> None:
        """A control moved: change the model (with undo) and tell the engine."""
        owner = self.session.master if track is None else self.session.tracks[track]
        edit = self.session.edit
        if what == "bypass":
            index, bypass = args
            edit.set_bypass(owner.chain[index], bypass)
            self.send("bypass", track, index, bypass)
            return
        value = args[0]
        {"mute": edit.set_mute, "solo": edit.set_solo, "pan": edit.set_pan, "gain_db": edit.set_gain}[what](owner, value)
        self.send(what, track, value)

    def undo(self) -> None:
        self.session.undo()
        self.structure_changed()

    def redo(self) -> None:
        self.session.redo()
        self.structure_changed()

    # -- each frame -----------------------------------------------------------------------

    def frame(self) -> None:
        """Read the engine and show it; called once per rendered frame."""
        engine = self.engine
        if engine is not None:
            for event in engine.poll():
                self.engine_state = event
            meters = engine.meters()
            for row, view in zip(meters[:-1], self.strips):
                view.show_levels(row)
            if self.master is not None and len(meters):
                self.master.show_levels(meters[-1])
            stats = engine.stats()
            if stats.get("alive"):
                dpg.set_value(self.position, f"{stats['position'] / self.session.sample_rate:6.1f} s")
                self.engine_state = (f"engine running: xruns {int(stats['xruns'])}, load p99 "
                                     f"{stats['load_p99']:.0%}, latency {int(stats['latency_frames'])} frames")
        dpg.set_value(self.status, self.engine_state)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()


def run(session_path: str | Path | None, *, screenshot: str | Path | None = None, frames: int = 0,
        start_engine: bool = True, play: bool = False, width: int = 1280, height: int = 720) -> None:
    """Open the rack on ``session_path``; with ``screenshot``, render ``frames`` frames, save a PNG and close.

    ``play`` starts the transport as soon as the engine runs.
    """
    from rackhost.presets import load_session

    path = Path(session_path) if session_path else None
    session = load_session(path) if path else Session()
    app = RackApp(session, path, start_engine=start_engine)
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    dpg.create_viewport(title=f"{TITLE}: {path.name if path else 'new session'}", width=width, height=height)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    rendered = 0
    try:
        while dpg.is_dearpygui_running():
            if play and app.engine is not None:
                app.send("play")
                play = False
            app.frame()
            dpg.render_dearpygui_frame()
            dpg.run_callbacks(dpg.get_callback_queue())
            rendered += 1
            if screenshot and app.engine is None and "starting" in app.engine_state:
                time.sleep(0.05)  # a screenshot waits for the engine (or its failure) before counting frames
                continue
            if screenshot and rendered == frames:
                dpg.output_frame_buffer(file=str(screenshot))
            if screenshot and rendered >= frames + 3:  # the file is written a frame or two later
                break
    finally:
        app.close()
        dpg.destroy_context()
