"""The window's side of touch and latch writes.

The engine process overrides and records (:mod:`rackhost.live.writer`); the
window tells it when a control is let go (a :class:`~rackhost.live.commands.Release`
once the mouse is up and the control still), shows which controls are being
written, and commits each pass the engine sends back to its own session: the
session the user saves and undoes in, one undo step per pass.

A MIDI controller's pass starts and ends in the engine: the window learns of
it from the engine's report of the passes it writes
(:attr:`~rackhost.live.process.EngineProcess.writing_now`) and shows it as it
shows its own drag; the control follows the controller (the engine's moved
targets), and the lane draws the value held since the pass began.
"""

from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import (
    MIX,
    WRITING_MODES,
    AutomationError,
    SendTarget,
    SlotTarget,
    Target,
    find,
)
from rackhost.live.commands import BusRow, EngineCommandError, EnvelopeRef, Release
from rackhost.live.writer import Writing, commit_written

# A control is let go when the mouse is up and it has not moved for this long (a wheel's burst is one touch).
RELEASE_SECONDS = 0.25
WRITING = (235, 75, 75)  # a control's text while a pass writes it
WRITING_THEME = "rackhost-writing"  # a tag: each Dear PyGui context makes its own theme once


class Writes:
    """Which controls the window is writing, keyed by (strip, :class:`EnvelopeRef`)."""

    def __init__(self, app: Any):
        self.app = app
        self.touched: dict[tuple[int | BusRow | None, EnvelopeRef], float] = {}  # -> time of the last move
        self.latched: set[tuple[int | BusRow | None, EnvelopeRef]] = set()

    def moved(self, track: int | BusRow | None, target: Target) -> bool:
        """A control of ``track`` was moved in the window (and sent to the engine); True if the move is written."""
        owner = self.app.owner(track)
        envelope = find(owner, target)
        if envelope is None or envelope.mode not in WRITING_MODES or not self.app.playing:
            return False
        key = (track, EnvelopeRef.of(owner, target))
        if envelope.mode == "latch":
            self.latched.add(key)
        self.touched[key] = time.monotonic()
        return True

    def writing(self, track: int | BusRow | None, target: Target) -> bool:
        """Is this control being written now (touched, or latched until the transport stops)?"""
        if not self.app.has_owner(track):
            return False
        try:
            key = (track, EnvelopeRef.of(self.app.owner(track), target))
        except StopIteration:  # its slot left the chain
            return False
        return key in self.touched or key in self.latched or self.in_engine(key) is not None

    def report(self, track: int | BusRow | None, target: Target) -> Writing | None:
        """The engine's report of the pass writing ``target`` of ``track`` now, if any (for the lane to draw)."""
        if not self.app.has_owner(track):
            return None
        try:
            return self.in_engine((track, EnvelopeRef.of(self.app.owner(track), target)))
        except StopIteration:
            return None

    def in_engine(self, key: tuple[int | BusRow | None, EnvelopeRef]) -> Writing | None:
        """The engine's report of the pass writing this control (a controller's, or the window's own), if any."""
        engine = self.app.engine
        for writing in getattr(engine, "writing_now", ()) if engine is not None else ():
            if (writing.track, writing.target) == key:
                return writing
        return None

    def show(self, lane: Any) -> None:
        """An automation lane's "writing" light, and its control's text in red, while a pass writes it."""
        writing = self.writing(lane.track, lane.target)
        if writing:  # every frame: a controller's move refreshes the strip, which paints its readout amber again
            for item in self._controls(lane.track, lane.target):
                mark_writing(item)
        if writing == lane.writing:
            return
        lane.writing = writing
        envelope = lane.envelope
        dpg.set_value(lane.writing_light, f"writing ({envelope.mode})" if writing and envelope else "")
        if writing:
            return
        if isinstance(lane.target, SlotTarget):  # back to amber (automated), or the theme's
            for panel in self.app.panels:
                if panel.alive and panel.slot is lane.target.slot:
                    panel._mark_automated()
        elif (view := self.app.view(lane.track)) is not None:
            view.show_automation()

    def _controls(self, track: int | BusRow | None, target: Target) -> list[int]:
        """The window's items that show a control: its readout, or its slider in a strip or an open panel."""
        if isinstance(target, SlotTarget):
            return [item for panel in self.app.panels if panel.alive and panel.slot is target.slot
                    for item in [panel.mix if target.parameter == MIX else panel.controls.get(target.parameter)]
                    if item]
        view = self.app.view(track)
        if view is None:
            return []
        if isinstance(target, SendTarget):
            row = view.routing.sends.get(target.send.bus) if view.routing is not None else None
            return [row.level] if row is not None else []
        item = {"gain_db": view.gain_text, "pan": getattr(view, "pan_text", 0)}.get(target.control)
        return [item] if item else []

    def poll(self, engine: Any, playing: bool) -> None:
        """Let go of still controls, forget latches once stopped, and commit what the engine wrote."""
        now = time.monotonic()
        mouse_up = not dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        for key, moved in list(self.touched.items()):
            if (mouse_up and now - moved > RELEASE_SECONDS) or not playing:
                del self.touched[key]
                self.app.send(Release(key[0], key[1]))
        if not playing:
            self.latched.clear()
        if engine is None:
            return
        committed = False
        while engine.written_passes:
            written = engine.written_passes.pop(0)
            try:
                commit_written(self.app.session, written)
                committed = True
            except (AutomationError, EngineCommandError) as err:
                self.app.tell(f"a written pass was not kept: {err}", error=True)
        if committed:
            for lane in self.app.lanes:
                lane.refresh()


def mark_writing(item: int) -> None:
    """A control being written (touch or latch): its text in red until the pass ends."""
    if dpg.get_item_type(item).endswith("mvText"):
        dpg.configure_item(item, color=WRITING)
        return
    if not dpg.does_item_exist(WRITING_THEME):
        with dpg.theme(tag=WRITING_THEME), dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_Text, WRITING)
    dpg.bind_item_theme(item, WRITING_THEME)
