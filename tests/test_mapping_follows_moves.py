"""A plug-in's MIDI mappings and envelopes go with it when it moves (``session.edit.move_to``): within its
chain, into and out of a split, to another track, a bus or the master, in the same undo step, so undo and redo
give them back exactly. The window's own following (``MidiMap.anchor``/``follow`` around every structural
change) finds a slot anywhere in the session by identity, and never hands a mapping to another slot of the same
plug-in. A copy of a slot gets none of the original's mappings or envelopes: the controller stays with the
plug-in it was learned on.
"""

from __future__ import annotations

import pytest
from conftest import SR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK

from rackhost.chain import Session, Split
from rackhost.chain.automation import Envelope, Point, SlotTarget, playing
from rackhost.chain.chain import path_of
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.cli.chain_spec import parse_chain
from rackhost.errors import SplitIntoItselfError

DRUMS = "Compressor(threshold_db=-40); [Compressor(threshold_db=-20) | ]; Reverb"


def _session() -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", None, input=(0, 1)).chain = parse_chain(DRUMS)
    session.add_track("bass", None, input=(0, 1)).chain = parse_chain("Gain(gain_db=-3); [Gain | ]")
    session.add_bus("verb", parse_chain("Gain(gain_db=-6)"))
    session.master.chain = parse_chain("Gain(gain_db=-1)")
    return session


def _strips(session: Session) -> list:
    return [*session.tracks, *session.busses, session.master]


def _target(session: Session, strip, slot, parameter: str) -> MappingTarget:
    """The mapping target of ``slot``'s ``parameter`` where it is now."""
    path = path_of(strip.chain, slot)
    track = session.tracks.index(strip) if strip in session.tracks else None
    bus = session.busses.index(strip) if strip in session.busses else None
    return MappingTarget(track, "parameter", path[0], parameter, bus, path[1:])


# The places a Compressor of the drums goes: (strip index in _strips, path there, as move_to names it).
PLACES = {
    "to another track": (1, (1,)),
    "into a split of another track": (1, (1, 1, 0)),
    "to a bus": (2, (0,)),
    "to the master": (3, (1,)),
    "within its chain": (0, (3,)),
    "into a split of its chain": (0, (1, 1, 0)),
}


@pytest.mark.parametrize("where", list(PLACES))
def test_a_mapped_compressor_moved_keeps_its_controller_and_undo_and_redo_give_back_the_same_mappings(where):
    session = _session()
    drums = session.tracks[0]
    moved, reverb = drums.chain[0], drums.chain[2]
    inner = drums.chain[1].branches[0].chain[0]  # another Compressor, where the moved one's place is taken
    session.midi.add(CCMapping(1, 20, _target(session, drums, moved, "threshold_db")))
    session.midi.add(CCMapping(1, 21, _target(session, drums, inner, "threshold_db")))
    session.midi.add(CCMapping(1, 22, _target(session, drums, reverb, "room_size")))
    session.midi.add(CCMapping(1, 7, MappingTarget(1, "gain")))
    envelope = session.edit.add_envelope(drums, Envelope(SlotTarget(moved, "ratio"), (Point(0.0, 2.0),
                                                                                   Point(1.0, 8.0))))
    before = list(session.midi.mappings)
    strip, to = PLACES[where]
    to_owner = _strips(session)[strip]
    session.edit.move_to(session, drums, 0, to, to_owner)
    mappings = {m.controller: m for m in session.midi.mappings}
    assert mappings[20].target.plugin(session) is moved.plugin
    assert mappings[20].target == _target(session, to_owner, moved, "threshold_db")
    assert mappings[21].target.plugin(session) is inner.plugin and mappings[22].target.plugin(session) is reverb.plugin
    assert mappings[7] is before[3]  # a fader's mapping: nothing moved it
    assert envelope in to_owner.automation and envelope in playing(to_owner)
    after = list(session.midi.mappings)
    session.midi.apply_cc(session, 1, 20, 127)  # the controller moves the moved plug-in, and only it
    assert moved.plugin.get("threshold_db") == 0.0 and inner.plugin.get("threshold_db") == -20.0
    session.undo()
    assert session.midi.mappings == before and all(a is b for a, b in zip(session.midi.mappings, before))
    assert envelope in drums.automation and (to_owner is drums or envelope not in to_owner.automation)
    session.redo()
    assert session.midi.mappings == after


def test_the_window_following_a_move_keeps_every_mapping_once_and_drops_none():
    """What the window does around every structural edit (anchor, edit, follow), with the move re-pointing the
    mappings itself: no mapping is dropped, doubled or moved again."""
    session = _session()
    drums, bass = session.tracks
    moved = drums.chain[0]
    session.midi.add(CCMapping(1, 20, _target(session, drums, moved, "threshold_db")))
    session.midi.add(CCMapping(1, 22, _target(session, drums, drums.chain[2], "room_size")))
    anchors = session.midi.anchor(session)
    session.edit.move_to(session, drums, 0, (0,), bass)
    repointed = list(session.midi.mappings)
    assert session.midi.follow(anchors, session) == [] and session.midi.mappings == repointed
    anchors = session.midi.anchor(session)
    session.undo()
    assert session.midi.follow(anchors, session) == []
    assert [m.target for m in session.midi.mappings] == [_target(session, drums, moved, "threshold_db"),
                                                          _target(session, drums, drums.chain[2], "room_size")]


def test_a_slot_moved_to_another_strip_outside_the_editor_is_followed_there_not_to_a_like_neighbour():
    """A slot taken to another strip by any edit (here by hand): following finds it there by identity. Matched
    by name at its old place, the mapping went to the other Compressor that now stood there."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    drums = session.add_track("drums", None, input=(0, 1))
    drums.chain = parse_chain("Compressor(threshold_db=-40); Compressor(threshold_db=-20)")
    bus = session.add_bus("crush", parse_chain("Gain"))
    first, second = drums.chain.slots
    session.midi.add(CCMapping(1, 20, _target(session, drums, first, "threshold_db")))
    anchors = session.midi.anchor(session)
    bus.chain.slots.append(drums.chain.slots.pop(0))
    assert session.midi.follow(anchors, session) == []
    [mapping] = session.midi.mappings
    assert mapping.target == MappingTarget(None, "parameter", 1, "threshold_db", bus=0)
    assert mapping.target.plugin(session) is first.plugin is not second.plugin


def test_a_mapped_slot_removed_drops_its_mapping_rather_than_moving_a_like_neighbour():
    session = Session(sample_rate=SR, block_size=BLOCK)
    drums = session.add_track("drums", None, input=(0, 1))
    drums.chain = parse_chain("Compressor(threshold_db=-40); Compressor(threshold_db=-20)")
    session.midi.add(CCMapping(1, 20, _target(session, drums, drums.chain[0], "threshold_db")))
    anchors = session.midi.anchor(session)
    session.edit.remove_slot(drums.chain, 0)
    assert session.midi.follow(anchors, session) == []  # the removal dropped it in its own undo step
    dropped = session.midi.take_dropped()
    assert session.midi.mappings == [] and len(dropped) == 1 and "Compressor slot was removed" in dropped[0]
    assert session.midi.apply_cc(session, 1, 20, 127) == [] and drums.chain[0].plugin.get("threshold_db") == -20.0


def test_an_ab_switch_keeps_a_mapping_on_the_same_plugin_in_the_other_setting():
    """The other setting is a copy (new slots): the mapping stays at its place, on the copy of its plug-in."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    drums = session.add_track("drums", None, input=(0, 1))
    drums.chain = parse_chain("Compressor(threshold_db=-40); Compressor(threshold_db=-20)")
    session.midi.add(CCMapping(1, 20, _target(session, drums, drums.chain[1], "threshold_db")))
    anchors = session.midi.anchor(session)
    session.edit.switch_ab(drums)
    assert session.midi.follow(anchors, session) == []
    assert session.midi.mappings[0].target.plugin(session) is drums.chain[1].plugin


def test_a_copied_slot_leaves_the_controller_and_envelopes_with_the_original():
    """The window's copy (a clone added where it is dropped): the copy is a new plug-in that no controller was
    learned on, so one controller does not start moving two; the original keeps its mapping and envelope."""
    session = _session()
    drums, bass = session.tracks
    original = drums.chain[0]
    session.midi.add(CCMapping(1, 20, _target(session, drums, original, "threshold_db")))
    envelope = session.edit.add_envelope(drums, Envelope(SlotTarget(original, "ratio"), (Point(0.0, 2.0),)))
    for to_owner, place in ((drums, 0), (bass, 0)):
        anchors = session.midi.anchor(session)
        copy = session.edit.add_slot(to_owner.chain, original.clone(), place)
        assert session.midi.follow(anchors, session) == []
        [mapping] = session.midi.mappings
        assert mapping.target.plugin(session) is original.plugin
        session.midi.apply_cc(session, 1, 20, 127)
        assert original.plugin.get("threshold_db") == 0.0 and copy.plugin.get("threshold_db") == -40.0
        original.plugin.set("threshold_db", -40.0)
        assert not any(isinstance(e.target, SlotTarget) and e.target.slot is copy for e in _envelopes(session))
    assert drums.automation == [envelope]


def _envelopes(session: Session) -> list[Envelope]:
    return [e for strip in _strips(session) for e in strip.automation]


# -- any sequence of moves between strips, with undo and redo ----------------------------------------------

def _items(chain, at=()) -> list[tuple[tuple[int, ...], object]]:
    out = []
    for i, item in enumerate(chain):
        out.append(((*at, i), item))
        for k, branch in enumerate(getattr(item, "branches", ())):
            out += _items(branch.chain, (*at, i, k))
    return out


def _places(chain, at=()) -> list[tuple[int, ...]]:
    out = [(*at, i) for i in range(len(chain) + 1)]
    for i, item in enumerate(chain):
        for k, branch in enumerate(getattr(item, "branches", ())):
            out += _places(branch.chain, (*at, i, k))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data())
def test_any_moves_between_strips_with_undo_and_redo_keep_every_mapping_and_envelope_on_its_plugin(data):
    """Every plug-in has a controller (and an envelope); moves of slots and splits between tracks, a bus and the
    master, in and out of splits, undone and redone at random, with the window's following around each: after
    each step every controller moves its own plug-in, every envelope plays on the strip holding its plug-in, and
    undoing everything gives back the first mappings exactly."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", None, input=(0, 1)).chain = parse_chain("Gain; [Gain; Gain | Gain]; Gain")
    session.add_track("bass", None, input=(0, 1)).chain = parse_chain("Gain")
    session.add_bus("verb", parse_chain("[Gain | ]"))
    session.master.chain = parse_chain("Gain")
    slots = [(strip, slot) for strip in _strips(session) for slot in strip.chain.plugin_slots()]
    for n, (strip, slot) in enumerate(slots):
        slot.plugin.set("gain_db", -float(n))
        session.midi.add(CCMapping(1, n, _target(session, strip, slot, "gain_db"), -12.0, 0.0))
        session.edit.add_envelope(strip, Envelope(SlotTarget(slot, "gain_db"), (Point(0.0, -float(n)),)))
    first = list(session.midi.mappings)
    session.history = type(session.history)()  # the moves are what undo goes back through, not the envelopes
    for _ in range(data.draw(st.integers(1, 8), "steps")):
        anchors = session.midi.anchor(session)
        action = data.draw(st.sampled_from(["move", "move", "undo", "redo"]), "action")
        if action == "move":
            owner = data.draw(st.sampled_from([s for s in _strips(session) if len(s.chain)]), "from")
            path, item = data.draw(st.sampled_from(_items(owner.chain)), "moved")
            to_owner = data.draw(st.sampled_from(_strips(session)), "to strip")
            to = data.draw(st.sampled_from(_places(to_owner.chain)), "to")
            try:
                session.edit.move_to(session, owner, path, to, to_owner)
            except SplitIntoItselfError:
                assert isinstance(item, Split)
        elif action == "undo":
            session.undo()
        else:
            session.redo()
        assert session.midi.follow(anchors, session) == []
        assert len(session.midi.mappings) == len(slots)
        for n, (_, slot) in enumerate(slots):
            [mapping] = [m for m in session.midi.mappings if m.controller == n]
            assert mapping.target.plugin(session) is slot.plugin
            holder = next(s for s in _strips(session) if path_of(s.chain, slot) is not None)
            assert [e.target.slot for e in holder.automation].count(slot) == 1
        session.midi.apply_cc(session, 1, len(slots) - 1, 0)  # the last controller: its own plug-in only
        assert [s.plugin.get("gain_db") for _, s in slots] == [-float(n) for n in range(len(slots) - 1)] + [-12.0]
        slots[-1][1].plugin.set("gain_db", -float(len(slots) - 1))
    while session.undo() is not None:
        pass
    assert session.midi.mappings == first
