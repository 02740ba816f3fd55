"""What the rack does for honest listening: a strip's bypass-compare (its chain against its input) and A/B
at matched loudness, and the delta, on tracks, busses and the master (:mod:`rackhost.chain.audition`).

Matching measures over the loop range (an offline render of it), or over the last seconds the strip played
(:mod:`rackhost.live.match_tap`: the engine keeps both sides, this process measures them): a track with no file
(a live input, an instrument) can only be matched that way, and does so by default.

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
from rackhost.chain.matching import MatchError
from rackhost.gui.strip import strip_where
from rackhost.live.commands import BusRow, SetAudition, SetSlotDelta
from rackhost.live.match_tap import DEFAULT_SECONDS, matched_from_played, played_offsets

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
    blind_test: BlindTestPanel | None = None  # one at a time: it owns what its strip plays
    app_chain: Callable[[Any], Any]
    engine: Any  # the EngineProcess, when one runs
    # Per strip, what matching measures over when the user chose: seconds (the last ones played) or None (the loop
    # range); and the strips to measure once they have played that long. A listening state: not saved.
    match_windows: dict[int | BusRow | None, float | None]
    pending_matches: set[int | BusRow | None]
    slot_at: Callable[[Any, Any], Any]  # a slot by its index or its path into a split

    def open_blind_test(self, strip: int | BusRow | None, seed: int | None = None) -> BlindTestPanel:
        """The blind-test panel of a strip: a track (its index), a bus (a :class:`BusRow`) or the master (None);
        one window: another strip's test is closed first."""
        panel = self.blind_test
        if panel is not None and panel.alive:
            if panel.strip == strip:
                dpg.focus_item(panel.window)
                return panel
            panel.close()
        self.blind_test = BlindTestPanel(self, strip, seed)  # type: ignore[arg-type]
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
        fresh = not was_matched or not audition.measured(owner.ab.active)
        if audition.match and fresh:
            self.measure_audition(track)

    def follow_strips(self, moved: dict[int | BusRow, int | BusRow]) -> None:
        """Strips moved or removed (``moved``: a strip's old place -> its new one; a track or bus not in it is
        gone): each strip's matching window and the engine's ring of it go with it."""
        def place(track: int | BusRow | None) -> int | BusRow | None:
            return None if track is None else moved[track]

        def kept(track: int | BusRow | None) -> bool:
            return track is None or track in moved

        self.match_windows = {place(t): s for t, s in self.match_windows.items() if kept(t)}
        self.pending_matches = {place(t) for t in self.pending_matches if kept(t)}
        engine = self.engine
        if engine is not None and engine.alive:
            engine.follow_strips(moved)

    def match_over(self, track: int | BusRow | None) -> float | None:
        """What ``track``'s matching measures over: the last seconds it played, or None for the loop range (a
        track with no file has no loop range to render: its last seconds)."""
        if track in self.match_windows:
            return self.match_windows[track]
        owner = self.owner(track)
        return DEFAULT_SECONDS if isinstance(track, int) and getattr(owner, "source", None) is None else None

    def match_over_words(self, track: int | BusRow | None) -> str:
        seconds = self.match_over(track)
        return "over the loop range" if seconds is None else f"over the last {seconds:g} s played"

    def set_match_over(self, track: int | BusRow | None, seconds: float | None) -> None:
        """Match ``track`` over the last ``seconds`` it plays (the engine keeps them from now on), or over the
        loop range (None); measured again at once (the loop range) or once that long has played."""
        self.match_windows[track] = seconds
        self.pending_matches.discard(track)
        engine = self.engine
        if seconds is None and engine is not None and engine.alive:
            engine.stop_listening(track)
        self.listen_for_matches()
        self.refresh_views()
        if self.owner(track).audition.match:
            self.measure_audition(track)

    def listen_for_matches(self, engine: Any = None) -> None:
        """Have the engine (``engine``: a new one, before the window sends it anything) keep what each strip
        matched over its last seconds plays."""
        engine = engine or self.engine
        if engine is None or not engine.alive:
            return
        strips: list[int | BusRow | None] = [*range(len(self.session.tracks)),
                                               *(BusRow(k) for k in range(len(self.session.busses))), None]
        for track in strips:
            seconds = self.match_over(track)
            if seconds is not None and engine.listening(track) != seconds:
                engine.listen_for_match(track, seconds)

    def poll_matches(self) -> None:
        """Measure the strips waiting for enough to have played (each frame: only counters are read)."""
        engine = self.engine
        for track in list(self.pending_matches):
            seconds = self.match_over(track)
            if seconds is None or engine is None or not engine.alive:
                self.pending_matches.discard(track)
            elif engine.played_seconds(track, self.owner(track).ab.active) >= seconds - 0.05:
                self.pending_matches.discard(track)
                self.measure_audition(track, now=True)

    def ab_switched(self, track: int | BusRow | None) -> None:
        """The strip plays its other A/B setting: matched over its last seconds, that setting is measured once it
        has played that long (the engine starts the span again at the switch)."""
        engine = self.engine
        if self.match_over(track) is not None and self.owner(track).audition.match and engine is not None \
                and engine.alive:
            self.pending_matches.add(track)

    def measure_audition(self, track: int | BusRow | None, now: bool = False) -> None:
        """Measure the strip's A and B settings against its input (BS.1770: a track's file, what the mix feeds
        a bus or the master) over the loop range when the loop is on (else all of it), then play them
        matched. A strip matched over its last seconds is measured once it has played that long, or with
        ``now`` on what it has played so far."""
        if self.match_over(track) is not None:
            self._match_from_playing(track, now)
            return
        owner = self.owner(track)
        session = self.session
        loop = session.loop  # the model's loop, not the transport's fields (they only show it)
        span = None
        if loop is not None and loop.on:
            span = (round(loop.start * session.sample_rate), round(loop.end * session.sample_rate))
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
                           lambda err: self.tell(f"could not match {name}: {err}"
                                                 + ("; or right-click match: over the last seconds played"
                                                    if isinstance(err, MatchError) else ""), error=True))

    def _match_from_playing(self, track: int | BusRow | None, now: bool) -> None:
        """Match on what the strip played over its last seconds: copied from the engine's ring here, measured on
        the plug-in thread (a long numpy job, not the GUI's), played matched."""
        owner, seconds = self.owner(track), self.match_over(track)
        assert seconds is not None
        name = strip_where(owner, track)
        engine = self.engine
        if engine is None or not engine.alive:
            self.tell(f"could not match {name}: matching over the last {seconds:g} s measures what the engine "
                      f"plays; start the audio engine (or right-click match: over the loop range)", error=True)
            return
        self.listen_for_matches()
        if not now and engine.played_seconds(track, owner.ab.active) < seconds - 0.05:
            self.pending_matches.add(track)
            self.tell(f"{name}: matching on the next {seconds:g} s it plays")
            return
        try:
            played = engine.played(track, seconds)
        except MatchError as err:
            self.tell(f"could not match {name}: {err}", error=True)
            return

        def done(offsets: tuple[float, float | None]) -> None:
            if self.owner(track) is not owner:
                return  # the strip went meanwhile
            owner.audition = matched_from_played(owner.audition, played, offsets, owner.ab.other is not None)
            self._send_audition(track, owner.audition)
            self.tell(f"{name}: matched to its input over the last {played.seconds:.1f} s played "
                      f"({owner.audition.label(owner.ab.active)})")
            self.refresh_views()

        self.loader.submit(f"measuring {name}'s loudness...", lambda: played_offsets(played, where=name), done,
                           lambda err: self.tell(f"could not match {name}: {err}", error=True))
