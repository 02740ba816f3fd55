"""Every edit of an envelope is one undo step: adding it, its points, moving or removing one, removing it."""

from __future__ import annotations

import numpy as np
import pytest

from rackhost.chain import ArraySource, Session
from rackhost.chain.automation import AutomationError, Envelope, Point, SlotTarget, StripTarget
from rackhost.chain.render import render

SR = 48000


def _session() -> tuple[Session, object]:
    session = Session(sample_rate=SR)
    track = session.add_track("dc", ArraySource(np.full((2, SR), 0.5, np.float32), SR))
    slot = track.chain.add("Gain", gain_db=0.0)
    return session, slot


def test_adding_editing_and_removing_an_envelope_are_one_undo_step_each_and_the_render_follows():
    session, slot = _session()
    track = session.tracks[0]
    dry = render(session, tail=False).audio
    envelope = session.edit.add_envelope(track, Envelope(SlotTarget(slot, "gain_db"), (Point(0.0, -6.0, "step"),)))
    session.edit.add_point(track, envelope, Point(0.5, -12.0, "step"))
    session.edit.move_point(track, envelope, 1, Point(0.25, -12.0, "step"))
    session.edit.set_points(track, envelope, [Point(0.0, 0.0), Point(1.0, -20.0)])
    session.edit.remove_point(track, envelope, 1)
    assert envelope.points == (Point(0.0, 0.0),)
    session.edit.remove_envelope(track, envelope)
    assert track.automation == []
    undone, _ = session.history.labels()
    assert undone[-6:] == ["automate Gain.gain_db", "add a point to Gain.gain_db", "move a point of Gain.gain_db",
                           "edit automation of Gain.gain_db", "remove a point of Gain.gain_db",
                           "remove automation of Gain.gain_db"]
    session.undo()
    assert track.automation == [envelope] and envelope.points == (Point(0.0, 0.0),)
    session.undo(), session.undo()
    assert envelope.points == (Point(0.0, -6.0, "step"), Point(0.25, -12.0, "step"))
    stepped = render(session, tail=False).audio[0]
    assert np.allclose(stepped[: SR // 4], 0.5 * 10 ** (-6 / 20))
    assert np.allclose(stepped[SR // 4:], 0.5 * 10 ** (-12 / 20))
    session.undo(), session.undo(), session.undo()
    assert track.automation == [] and np.array_equal(render(session, tail=False).audio, dry)
    session.redo()
    assert track.automation == [envelope] and envelope.points == (Point(0.0, -6.0, "step"),)


def test_a_bad_edit_records_nothing():
    session, slot = _session()
    track = session.tracks[0]
    envelope = session.edit.add_envelope(track, Envelope(StripTarget("pan"), (Point(0.0, 0.0),)))
    steps = len(session.history.labels()[0])
    with pytest.raises(AutomationError, match="out of range"):
        session.edit.add_point(track, envelope, Point(1.0, 3.0))
    with pytest.raises(AutomationError, match="time must be 0..86400 s"):
        session.edit.move_point(track, envelope, 0, Point(-1.0, 0.0))
    with pytest.raises(AutomationError, match="one point left"):
        session.edit.remove_point(track, envelope, 0)
    with pytest.raises(AutomationError, match="has an envelope already"):
        session.edit.add_envelope(track, Envelope(StripTarget("pan"), (Point(0.0, 0.5),)))
    assert len(session.history.labels()[0]) == steps and envelope.points == (Point(0.0, 0.0),)
