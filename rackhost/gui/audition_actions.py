"""What the rack does for honest listening: a strip's bypass-compare (its chain against its input) and A/B
at matched loudness, and the delta, on tracks, busses and the master (:mod:`rackhost.chain.audition`).

A part of :class:`rackhost.gui.app.RackApp`, kept apart so the app reads as the window and its edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.audition import Audition
from rackhost.chain.audition_measure import measure_audition
from rackhost.gui.blind_panel import BlindTestPanel
from rackhost.gui.strip import strip_where
from rackhost.live.commands import BusRow, SetAudition, SetSlotDelta

if TYPE_CHECKING:
    from rackhost.chain import Session
    from rackhost.gui.host import Submitter


class AuditionActions:
    """A strip's ``in``, ``match`` and ``Δ`` switches, its blind test, and a slot's delta; the matching offset is
    measured on the plug-in thread."""

    session: Session
    loader: Submitter
    tell: Callable[..., None]  # tell(message, error=False)
    send: Callable[..., None]  # a command for the engine, if it runs
    owner: Callable[[Any], Any]
    refresh_views: Callable[[], None]
    loop: int | str  # the transport's loop switch and its range in seconds
    loop_range: int | str
    blind_test: BlindTestPanel | None = None  # one at a time: it owns what its track plays
    app_chain: Callable[[Any], Any]
    slot_at: Callable[[Any, Any], Any]  # a slot by its index or its path into a split

    def open_blind_test(self, track: int, seed: int | None = None) -> BlindTestPanel:
        """The blind-test panel of track ``track`` (one window; another track's test is closed first)."""
        panel = self.blind_test
        if panel is not None and panel.alive:
            if panel.track == track:
                dpg.focus_item(panel.window)
                return panel
            panel.close()
        self.blind_test = BlindTestPanel(self, track, seed)  # type: ignore[arg-type]
        return self.blind_test

    def set_slot_delta(self, track: Any, index: Any, value: bool) -> None:
        """Play what slot ``index`` (an index, or a path into a split's branches) changes (its output minus its
        aligned input) instead of its output, or not. A listening switch: not an edit (no undo step), not saved."""
        self.slot_at(track, index).delta = bool(value)
        path = (index,) if isinstance(index, int) else tuple(index)
        self.send(SetSlotDelta(track, path[0], bool(value), path[1:]))
        self.refresh_views()

    def _send_audition(self, track: int | BusRow | None, a: Audition) -> None:
        self.send(SetAudition(track, a.side, a.match, a.delta, a.offsets, a.runs_other, a.compare_slot,
                              a.other_offset))

    def set_audition(self, track: int | BusRow | None, audition: Audition) -> None:
        """Play ``audition`` on track ``track``, a bus (a :class:`BusRow`) or the master (None); the engine
        crossfades to it. Turning ``match`` on measures again (the chain may have changed since), as does a
        match never measured."""
        owner = self.owner(track)
        was_matched = owner.audition.match
        owner.audition = audition
        self._send_audition(track, audition)
        self.refresh_views()  # the strip shows it (a blind test's side as "blind test")
        fresh = not was_matched or audition.offsets == (0.0, 0.0)
        if audition.match and fresh and getattr(owner, "source", True) is not None:  # a bus's input is the mix
            self.measure_audition(track)

    def measure_audition(self, track: int | BusRow | None) -> None:
        """Measure the strip's A and B settings against its input (BS.1770: a track's file, what the mix feeds
        a bus or the master) over the loop range when the loop is on (else all of it), then play them
        matched."""
        owner = self.owner(track)
        session = self.session
        span = None
        if dpg.get_value(self.loop):
            start, end = dpg.get_value(self.loop_range)[:2]
            span = (int(start * session.sample_rate), int(end * session.sample_rate))
        compared = owner.audition.compare_slot
        name = strip_where(owner, track)

        def done(measured: Audition) -> None:
            owner.audition = replace(owner.audition, offsets=measured.offsets)
            if compared is not None and owner.audition.compare_slot == compared:
                owner.audition = replace(owner.audition, other_offset=measured.other_offset)
            a = owner.audition
            self._send_audition(track, a)
            self.tell(f"{name}: matched to its input ({a.label(owner.ab.active)})")
            self.refresh_views()

        self.loader.submit(f"measuring {name}'s loudness...",
                           lambda: measure_audition(session, owner, span), done,
                           lambda err: self.tell(f"could not match {name}: {err}", error=True))
