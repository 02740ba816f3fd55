"""The window's side of touch and latch writes.

The engine process overrides and records (:mod:`rackhost.live.writer`); the
window tells it when a control is let go (a :class:`~rackhost.live.commands.Release`
once the mouse is up and the control still), shows which controls are being
written, and commits each pass the engine sends back to its own session: the
session the user saves and undoes in, one undo step per pass.
"""

from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import WRITING_MODES, AutomationError, Target, find
from rackhost.live.commands import BusRow, EngineCommandError, EnvelopeRef, Release
from rackhost.live.writer import commit_written

# A control is let go when the mouse is up and it has not moved for this long (a wheel's burst is one touch).
RELEASE_SECONDS = 0.25


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
        return key in self.touched or key in self.latched

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
