"""Touch and latch writes in the live engine, on its control thread.

A control moved while the transport plays (a fader or a knob in the window,
a mapped MIDI controller) whose envelope is in ``touch`` or ``latch`` mode
overrides the envelope: the engine sets the value on the envelope's prepared
curves (:attr:`rackhost.chain.automated.Curve.held`, one assignment each) and
the block renderers play it instead of the points, from the next block. The
callback never learns about writing: no lock, no allocation, no new state.

The recording happens here, on the control thread, which knows the value it
sent and the transport position it goes to: each move is kept as (frame, value)
in envelope time (the transport position less the curve's lag, so a value
heard after a latent plug-in lands where the envelope would have to say it).
A pass ends when the control is let go (touch), or the transport stops
(touch and latch); its moves become points (:mod:`rackhost.chain.automation_write`)
committed by the engine as one undo step.

A MIDI controller cannot say that it was let go: a touch pass it started ends
:data:`MIDI_RELEASE_SECONDS` after its last move.

A touch let go while playing glides back to the envelope (``glide`` frames,
the session's ``automation_glide``): the curves play a straight line from the
held value to the envelope's value ``glide`` frames on
(:class:`~rackhost.chain.automated.Glide`), from a block after the release
(the value held until then), and the written points end with the same line,
so the committed envelope plays offline what was heard. A pass
the transport's stop ends (latch, or a touch still held) writes no glide:
nothing played after it, and what is written is what was heard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rackhost.chain.automated import Curve, Glide, MixAutomation
from rackhost.chain.automation import (
    AutomationError,
    Envelope,
    Point,
    Strip,
    ValueRange,
    value_range,
)
from rackhost.chain.automation_write import (
    Segment,
    value_at,
    write_tolerance,
    written_points,
)
from rackhost.live.commands import BusRow, EnvelopeRef, strip_ref

MIDI_RELEASE_SECONDS = 0.5  # a controller still this long has been let go


@dataclass
class WritePass:
    """One envelope being written: the moves heard so far, in envelope frames, and what plays them."""

    owner: Strip
    envelope: Envelope
    mode: str
    valid: ValueRange  # what the target takes: a move beyond it is held (and written) at its edge
    held: float
    source: str  # "window" or "midi"
    curves: list[tuple[Curve, int]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    moves: list[tuple[int, float]] = field(default_factory=list)  # (envelope frame, value) of this segment
    last_frame: int = 0
    last_move: float = 0.0  # time.monotonic() of the last move (a controller's release)

    @property
    def lag(self) -> int:
        return self.curves[0][1] if self.curves else 0

    def hold(self) -> None:
        for curve, _ in self.curves:
            curve.held = self.held

    def let_go(self) -> None:
        for curve, _ in self.curves:
            curve.held = None


@dataclass(frozen=True)
class FinishedPass:
    """A pass ended: the envelope, on its strip, and its new points (the moves thinned and written in)."""

    owner: Strip
    envelope: Envelope
    mode: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class WrittenPass:
    """A committed pass as a parent process is told of it: the strip (a track's index, a :class:`BusRow`, None:
    the master), the envelope, the mode it was written in, and the envelope's new points."""

    track: int | BusRow | None
    target: EnvelopeRef
    mode: str
    points: tuple[Point, ...]

    @classmethod
    def of(cls, session: Any, done: FinishedPass) -> WrittenPass:
        return cls(strip_ref(session, done.owner), EnvelopeRef.of(done.owner, done.envelope.target), done.mode,
                   done.points)


@dataclass(frozen=True)
class Writing:
    """A pass being written now, as a parent process is told of it (a window shows it as it would its own
    drag: a MIDI controller's passes start and end in the engine): the strip, the envelope, the mode, where the
    moves come from ("window" or "midi"), the value held, and when (envelope seconds) the pass began."""

    track: int | BusRow | None
    target: EnvelopeRef
    mode: str
    source: str
    value: float
    since: float

    @classmethod
    def of(cls, session: Any, written: WritePass, sample_rate: float) -> Writing:
        first = written.segments[0].moves[0][0] if written.segments else written.moves[0][0] / sample_rate
        return cls(strip_ref(session, written.owner), EnvelopeRef.of(written.owner, written.envelope.target),
                   written.mode, written.source, written.held, first)


class AutomationWriter:
    """The engine's touch and latch passes (control thread only)."""

    def __init__(self, sample_rate: float, block: int):
        self.sample_rate = sample_rate
        self.block = block
        self.passes: dict[int, WritePass] = {}  # id(envelope) -> its pass
        self._automation: MixAutomation | None = None

    def attach(self, automation: MixAutomation | None) -> None:
        """A new audio state was prepared: its curves hold the controls being written (before it is swapped in)."""
        self._automation = automation
        for written in self.passes.values():
            written.curves = list(automation.curves.get(id(written.envelope), ())) if automation else []
            written.hold()

    def writing(self, envelope: Envelope) -> bool:
        return id(envelope) in self.passes

    def move(self, owner: Strip, envelope: Envelope, value: float, position: int, loop: tuple[int, int] | None,
             source: str = "window") -> bool:
        """``envelope``'s control moved to ``value`` at transport frame ``position``: hold it and record it.
        False when the envelope plays nowhere (its slot bypassed), so there is nothing to write over."""
        written = self.passes.get(id(envelope))
        if written is None:
            automation = self._automation
            curves = list(automation.curves.get(id(envelope), ())) if automation is not None else []
            if not curves:
                return False
            try:
                valid = value_range(owner, envelope.target)
            except AutomationError:  # its slot or send left the strip since the state was prepared
                return False
            written = WritePass(owner, envelope, envelope.mode, valid, value, source, curves)
            self.passes[id(envelope)] = written
        value = min(max(value, written.valid.minimum), written.valid.maximum)
        written.held = float(round(value)) if written.valid.discrete else value
        written.last_move = time.monotonic()
        written.hold()
        self._sample(written, position, loop)
        return True

    def tick(self, position: int, loop: tuple[int, int] | None) -> list[WritePass]:
        """Follow the transport (a loop going round starts a new segment); returns the touch passes a controller
        has let go of (for :meth:`end`)."""
        released = []
        now = time.monotonic()
        for written in self.passes.values():
            self._sample(written, position, loop, move=False)
            if written.mode == "touch" and written.source == "midi" and now - written.last_move > MIDI_RELEASE_SECONDS:
                released.append(written)
        return released

    def jump(self, position: int, to: int) -> None:
        """The transport is moved from ``position`` to ``to`` (a locate): what was written stops where it was
        and goes on from ``to`` with the value still held, never over the stretch jumped."""
        for written in self.passes.values():
            self._sample(written, position, None, move=False)
            self._close(written, written.last_frame)
            written.last_frame = max(0, to - written.lag)
            written.moves.append((written.last_frame, written.held))

    def end(self, envelopes: list[Envelope] | None, position: int, loop: tuple[int, int] | None,
            glide: int = 0) -> list[FinishedPass]:
        """End the passes of ``envelopes`` (None: every pass) at transport frame ``position``: the envelope plays
        again from there, reached in a straight line over ``glide`` frames (a touch let go; 0: at once).
        Returns each pass's new points."""
        ids = list(self.passes) if envelopes is None else [id(e) for e in envelopes if id(e) in self.passes]
        finished = []
        rate = self.sample_rate
        for key in ids:
            written = self.passes.pop(key)
            self._sample(written, position, loop, move=False)
            valid = written.valid
            points = written.envelope.points
            gliding = glide > 0 and not valid.discrete and bool(points)
            # A glide starts a block on: the callback may play one more block before it hears of the release.
            lead = self.block if gliding else 0
            meet = (written.last_frame + lead + glide) / rate
            target = value_at(points, meet) if gliding else 0.0
            if gliding:  # the glide first: the held value goes on until the line starts
                for curve, lag in written.curves:
                    hold = max(0, position - lag)
                    curve.glide = Glide(hold, hold + lead, hold + lead + glide, written.held, target, curve.frames)
            written.let_go()  # before the thinning below: the callback plays the envelope (or the glide) now
            self._close(written, written.last_frame + lead)
            if gliding:  # the last segment meets the envelope again glide frames on
                last = written.segments[-1]
                written.segments[-1] = Segment(last.moves, last.end, (meet, target))
            new = written_points(points, written.segments, write_tolerance(valid), 1.0 / rate, valid.discrete)
            if new != points:
                finished.append(FinishedPass(written.owner, written.envelope, written.mode, new))
            else:  # nothing was heard: no state comes to play new points, so no line either
                for curve, _ in written.curves:
                    curve.glide = None
        return finished

    # -- the moves, in envelope frames -------------------------------------------------------

    def _sample(self, written: WritePass, position: int, loop: tuple[int, int] | None, move: bool = True) -> None:
        frame = max(0, position - written.lag)
        if written.moves and frame < written.last_frame:  # the loop went round (or the transport was moved)
            end = written.last_frame + self.block
            if loop is not None and written.last_frame < loop[1] - written.lag:
                end = loop[1] - written.lag
            self._close(written, end)
            if loop is not None and frame >= loop[0] - written.lag:
                written.moves.append((max(0, loop[0] - written.lag), written.held))  # held since the wrap
        if move or not written.moves:
            written.moves.append((frame, written.held))
        written.last_frame = frame

    def _close(self, written: WritePass, end: int) -> None:
        if written.moves:
            rate = self.sample_rate
            written.segments.append(Segment(tuple((f / rate, v) for f, v in written.moves), end / rate))
            written.moves = []


def envelope_value(owner: Any, envelope: Envelope, value: object) -> float:
    """A control's value as its envelope holds it: a switch 0 or 1, a list's choice by its index, else a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        target = envelope.target
        info = target.slot.plugin.info(target.parameter)  # type: ignore[union-attr]
        if value in info.choices:
            return float(info.choices.index(value))
    return float(value)  # type: ignore[arg-type]


def commit_written(session: Any, written: WrittenPass) -> Envelope:
    """Put a pass an engine process wrote into ``session`` (the parent's), as one undo step; returns the
    envelope. :class:`~rackhost.chain.automation.AutomationError` if the strip no longer has that envelope."""
    from rackhost.chain.automation import AutomationError, find, write_label
    from rackhost.live.commands import owner

    strip = owner(session, written.track)
    target = written.target.target(strip)
    envelope = find(strip, target)
    if envelope is None:
        raise AutomationError(f"the engine wrote {target.describe()}, whose envelope has been removed since; "
                              f"automate it again and write another pass")
    session.edit.set_points(strip, envelope, written.points, write_label(written.mode, [envelope.describe()]))
    session.history.seal()
    return envelope
