"""MIDI mappings follow the slots that the library's own edits move: ``session.edit.add_slot``, ``remove_slot`` and
``move_slot`` (what a script or the CLI calls), and ``replace_slot``, ``make_split`` and a split's branches added
or removed, re-point the session's mappings in the same undo step, as ``move_to`` does. A mapping whose slot is
removed goes with it and comes back on undo (and goes again on redo), in that step. The window, which follows
mappings around every edit too, re-points nothing twice.
"""

from __future__ import annotations

import pytest
from conftest import SR, program_signal
from gui_driver import built_window, steps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import Branch, Bus, Chain, Plugin, Send, Session, Slot, Split, Track
from rackhost.chain.chain import path_of
from rackhost.chain.history import Editor
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import save_session

PARAMETER = {"Gain": "gain_db", "Compressor": "threshold_db", "Reverb": "room_size"}
DRUMS = "Gain(gain_db=-3); Compressor(threshold_db=-30); Reverb(room_size=0.4)"


def _strips(session: Session) -> list:
    return [*session.tracks, *session.busses, session.master]


def _where(session: Session, slot) -> tuple | None:
    """The strip holding ``slot`` (inside a split too) and its path there; None if it plays nowhere."""
    for strip in _strips(session):
        path = path_of(strip.chain, slot)
        if path is not None:
            return strip, path
    return None


def _target(session: Session, slot) -> MappingTarget:
    """The target of ``slot``'s parameter where it is now."""
    strip, path = _where(session, slot)
    track = session.tracks.index(strip) if strip in session.tracks else None
    bus = session.busses.index(strip) if strip in session.busses else None
    return MappingTarget(track, "parameter", path[0], PARAMETER[slot.name], bus, path[1:])


def _drums() -> tuple[Session, list]:
    """A drums track of Gain, Compressor, Reverb, each with a controller (20, 21, 22); returns its slots."""
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", None, input=(0, 1)).chain = parse_chain(DRUMS)
    slots = list(session.tracks[0].chain)
    for n, slot in enumerate(slots):
        session.midi.add(CCMapping(1, 20 + n, _target(session, slot)))
    return session, slots


def _pointing(session: Session) -> dict[int, object]:
    """What each controller's mapping moves now: the slot object it names (slots compare by identity)."""
    return {m.controller: m.target.item(session) for m in session.midi.mappings}


def test_a_slot_inserted_before_a_mapped_compressor_leaves_the_knob_on_the_compressor_through_undo_and_redo():
    session, (gain, comp, reverb) = _drums()
    chain = session.tracks[0].chain
    first = list(session.midi.mappings)
    added = session.edit.add_slot(chain, Plugin.create("Gain", gain_db=0.0), 0)
    assert len(session.history.labels()[0]) == 1  # one step: the slot and its followers
    assert _pointing(session) == {20: gain, 21: comp, 22: reverb}
    session.midi.apply_cc(session, 1, 21, 0)  # the threshold knob to its bottom: the Compressor's, not the new Gain's
    assert comp.plugin.get("threshold_db") == pytest.approx(comp.plugin.info("threshold_db").minimum)
    assert added.plugin.get("gain_db") == pytest.approx(0.0) and gain.plugin.get("gain_db") == pytest.approx(-3.0)
    session.undo()
    assert session.midi.mappings == first and all(a is b for a, b in zip(session.midi.mappings, first))
    session.redo()
    assert _pointing(session) == {20: gain, 21: comp, 22: reverb}


def test_a_mapped_slot_removed_takes_its_mapping_which_undo_brings_back_and_redo_takes_again():
    session, (gain, comp, reverb) = _drums()
    chain = session.tracks[0].chain
    first = list(session.midi.mappings)
    session.edit.remove_slot(chain, comp)
    assert _pointing(session) == {20: gain, 22: reverb}
    assert session.midi.take_dropped() == ["channel 1 CC 21 -> track 1 slot 1.threshold_db: its Compressor slot "
                                           "was removed"]
    assert session.midi.take_dropped() == []  # said once
    assert session.midi.apply_cc(session, 1, 21, 0) == []  # nothing answers the dropped controller
    assert session.undo() == "remove slot"
    assert session.midi.mappings == first and all(a is b for a, b in zip(session.midi.mappings, first))
    assert session.midi.take_dropped() == []
    session.redo()
    assert _pointing(session) == {20: gain, 22: reverb} and len(session.midi.take_dropped()) == 1


def test_a_slot_moved_within_its_chain_keeps_every_controller_on_its_plugin():
    session, (gain, comp, reverb) = _drums()
    chain = session.tracks[0].chain
    session.edit.move_slot(chain, reverb, 0)
    assert list(chain) == [reverb, gain, comp] and _pointing(session) == {20: gain, 21: comp, 22: reverb}
    session.edit.move_slot(chain, "Reverb", 99)  # past the end: last, and undo finds it there
    assert list(chain) == [gain, comp, reverb] and _pointing(session) == {20: gain, 21: comp, 22: reverb}
    session.undo()
    session.undo()
    assert list(chain) == [gain, comp, reverb] and _pointing(session) == {20: gain, 21: comp, 22: reverb}
    assert [m.target.slot for m in session.midi.mappings] == [0, 1, 2]


def test_a_compressor_made_parallel_keeps_its_controller_inside_the_split_and_removing_its_branch_drops_it():
    session, (gain, comp, reverb) = _drums()
    chain = session.tracks[0].chain
    split = session.edit.make_split(chain, comp)
    assert _pointing(session) == {20: gain, 21: comp, 22: reverb}
    assert session.midi.for_controller(1, 21)[0].target == MappingTarget(0, "parameter", 1, "threshold_db",
                                                                        path=(0, 0))
    session.edit.add_branch(split, Branch(Chain([Slot(Plugin.create("Gain"))])), 0)  # the compressor's is now 2nd
    assert _pointing(session) == {20: gain, 21: comp, 22: reverb}
    session.edit.remove_branch(split, 1)
    assert _pointing(session) == {20: gain, 22: reverb}
    for _ in range(3):
        session.undo()
    assert list(chain) == [gain, comp, reverb] and [m.target for m in session.midi.mappings] == [
        MappingTarget(0, "parameter", n, PARAMETER[s.name]) for n, s in enumerate((gain, comp, reverb))]


def test_a_slot_replaced_by_another_plugin_drops_its_controller_until_undo_and_by_the_same_plugin_keeps_it():
    session, (gain, comp, reverb) = _drums()
    chain = session.tracks[0].chain
    session.edit.replace_slot(chain, comp, Plugin.create("Reverb"))
    assert {20, 22} == set(_pointing(session)) and len(session.midi.take_dropped()) == 1
    session.undo()
    assert _pointing(session) == {20: gain, 21: comp, 22: reverb}
    fresh = session.edit.replace_slot(chain, comp, Plugin.create("Compressor"))
    assert _pointing(session) == {20: gain, 21: fresh, 22: reverb}


# -- tracks, busses, sends and whole chains ----------------------------------------------------------------------


def _mixer() -> tuple[Session, dict[int, object]]:
    """Two tracks and two busses; the bass (the later track) and the second bus each with a controller on their
    fader (30, 40), pan (31, 41), send to 'verb' (32, 42) and first slot's parameter (33, 43); the drums' fader on
    34. Returns what each controller moves (a strip, a send or a slot)."""
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", None, input=(0, 1), chain=parse_chain("Compressor"))
    bass = session.add_track("bass", None, input=(0, 1), chain=parse_chain("Gain; Compressor"))
    session.add_bus("verb", parse_chain("Reverb"))
    keys = session.add_bus("keys bus", parse_chain("Compressor; Gain"))
    moved = {}
    for strip, base, place in ((bass, 30, {"track": 1}), (keys, 40, {"track": None, "bus": 1})):
        strip.add_send("verb", -12.0)
        targets = [MappingTarget(kind="gain", **place), MappingTarget(kind="pan", **place),
                   MappingTarget(kind="send", send="verb", **place),
                   MappingTarget(kind="parameter", slot=0, parameter="gain_db", **place)]
        for n, (target, what) in enumerate(zip(targets, (strip, strip, strip.sends[0], strip.chain[0]))):
            session.midi.add(CCMapping(1, base + n, target))
            moved[base + n] = what
    session.midi.add(CCMapping(1, 34, MappingTarget(0, "gain")))
    moved[34] = drums
    return session, moved


def _moves(session: Session) -> dict[int, object]:
    """What each controller's mapping moves now: its strip, send or slot object."""
    out = {}
    for m in session.midi.mappings:
        target = m.target
        out[m.controller] = target.item(session) if target.kind == "parameter" else \
            target.send_of(session) if target.kind == "send" else target.owner(session)
    return out


def _same(session: Session, first: list[CCMapping]) -> bool:
    """The mappings are ``first``: the same objects in the same order."""
    return len(session.midi.mappings) == len(first) and all(a is b for a, b in zip(session.midi.mappings, first))


def test_a_track_inserted_before_a_mapped_track_leaves_its_fader_pan_send_and_slot_knobs_on_it_through_undo():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    bass = session.tracks[1]
    session.edit.add_track(session, Track("keys", input=(0, 1), chain=parse_chain("Gain")), 0)
    assert len(session.history.labels()[0]) == 1 and _moves(session) == moved
    session.midi.apply_cc(session, 1, 30, 0)  # the bass fader to its bottom, not the new track's
    assert bass.gain_db == pytest.approx(-60.0) and session.tracks[0].gain_db == 0.0
    session.undo()
    assert _same(session, first)
    session.redo()
    assert _moves(session) == moved and session.midi.for_controller(1, 33)[0].target.track == 2


def test_a_track_moved_takes_its_knobs_along_and_the_track_it_passed_keeps_its_own():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    drums, bass = session.tracks
    session.edit.move_track(session, bass, 0)
    assert session.tracks == [bass, drums] and _moves(session) == moved
    assert {m.controller: m.target.track for m in session.midi.mappings if m.controller < 40} == {
        30: 0, 31: 0, 32: 0, 33: 0, 34: 1}
    session.edit.move_track(session, drums, -5)  # before the first: first, and undo finds it there
    assert session.tracks == [drums, bass] and _moves(session) == moved
    session.undo()
    session.undo()
    assert _same(session, first)


def test_a_mapped_track_removed_takes_its_knobs_which_undo_brings_back_and_the_later_tracks_keep_theirs():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    drums, bass = session.tracks
    session.edit.remove_track(session, drums)
    assert _moves(session) == {c: w for c, w in moved.items() if c != 34}
    assert session.midi.take_dropped() == ["channel 1 CC 34 -> track 1 gain: its track was removed"]
    session.edit.remove_track(session, bass)
    assert _moves(session) == {c: w for c, w in moved.items() if c >= 40} and len(session.midi.take_dropped()) == 4
    session.undo()
    session.undo()
    assert _same(session, first) and session.midi.take_dropped() == []


def test_a_bus_inserted_before_a_mapped_bus_or_removed_moves_and_drops_its_knobs_and_its_sends_knobs():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    verb, keys = session.busses
    session.edit.add_bus(session, Bus("drum bus"), 0)
    assert _moves(session) == moved and session.midi.for_controller(1, 40)[0].target.bus == 2
    session.edit.remove_bus(session, verb)  # the sends to it go: their knobs too
    assert len(session.history.labels()[0]) == 2
    assert _moves(session) == {c: w for c, w in moved.items() if c not in (32, 42)}
    assert sorted(session.midi.take_dropped()) == ["channel 1 CC 32 -> track 2 send to verb: its send was removed",
                                                   "channel 1 CC 42 -> bus 3 send to verb: its send was removed"]
    session.edit.remove_bus(session, keys)
    assert _moves(session) == {c: w for c, w in moved.items() if c < 40 and c != 32}
    assert len(session.midi.take_dropped()) == 3
    for _ in range(3):
        session.undo()
    assert _same(session, first)


def test_a_bus_renamed_keeps_the_knobs_on_the_sends_to_it_and_a_send_removed_takes_its_knob_until_undo():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    session.edit.rename_bus(session, session.busses[0], "hall")
    assert _moves(session) == moved and session.midi.for_controller(1, 32)[0].target.send == "hall"
    session.midi.apply_cc(session, 1, 32, 127)
    assert moved[32].level_db == pytest.approx(6.0)
    session.edit.remove_send(session.tracks[1], "hall")
    assert _moves(session) == {c: w for c, w in moved.items() if c != 32}
    assert session.midi.take_dropped() == ["channel 1 CC 32 -> track 2 send to hall: its send was removed"]
    session.undo()
    session.undo()
    assert _same(session, first) and _moves(session) == moved


def test_a_chain_loaded_keeps_a_knob_where_the_same_plugin_stands_and_drops_the_others_until_undo():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    bass = session.tracks[1]
    session.edit.load_chain(bass, parse_chain("Gain(gain_db=-6)"))  # a preset recalled: the same Gain first
    assert _moves(session)[33] is bass.chain[0] and session.midi.mappings[3] is first[3]
    session.edit.load_chain(bass, parse_chain("Reverb; Gain"))  # the Gain is second now: its knob goes
    assert 33 not in _moves(session)
    assert session.midi.take_dropped() == ["channel 1 CC 33 -> track 2 slot 0.gain_db: its Gain slot was removed"]
    session.undo()
    assert _moves(session)[33].plugin.get("gain_db") == pytest.approx(-6.0)
    session.undo()
    assert _same(session, first) and _moves(session) == moved


def test_an_ab_switch_keeps_a_knob_on_the_same_plugin_in_the_other_setting_and_drops_it_where_there_is_none():
    session, moved = _mixer()
    first = list(session.midi.mappings)
    bass = session.tracks[1]
    session.edit.switch_ab(bass)  # B is a copy of A: the Gain stands first in both
    assert _moves(session)[33] is bass.chain[0] and bass.chain[0] is not moved[33] and _same(session, first)
    session.undo()
    session.edit.switch_ab(bass, parse_chain("Compressor"))  # a B made elsewhere, without the Gain
    assert 33 not in _moves(session) and len(session.midi.take_dropped()) == 1
    session.undo()
    assert _same(session, first) and _moves(session) == moved


def test_an_editor_made_without_its_session_leaves_the_mappings_as_before():
    session, (gain, comp, reverb) = _drums()
    first = list(session.midi.mappings)
    Editor(session.history).add_slot(session.tracks[0].chain, Plugin.create("Gain"), 0)
    assert session.midi.mappings == first


# -- any edits, undone and redone at random ---------------------------------------------------------------------


def _chains(chain: Chain) -> list[Chain]:
    """``chain`` and every branch's chain under it, at any depth."""
    out = [chain]
    for item in chain:
        for branch in getattr(item, "branches", ()):
            out += _chains(branch.chain)
    return out


def _random_session() -> tuple[Session, dict[int, object]]:
    """Two tracks (one with a split), two busses and the master, every plug-in with a controller of its own, and
    so every track's and bus's fader and pan and each track's send (the drums' to one bus, the bass's to the
    other)."""
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", None, input=(0, 1))
    drums.chain = parse_chain("Compressor; [Gain; Compressor | Reverb]; Reverb")
    bass = session.add_track("bass", None, input=(0, 1))
    bass.chain = parse_chain("Gain; Compressor")
    session.add_bus("verb", parse_chain("Reverb"))
    session.add_bus("keys bus", parse_chain("Gain; Compressor"), output="verb")
    drums.add_send("verb", -6.0)
    bass.add_send("keys bus", -6.0)
    session.master.chain = parse_chain("Gain")
    named: dict[int, object] = {}

    def mapped(target: MappingTarget, what: object) -> None:
        named[len(named)] = what
        session.midi.add(CCMapping(1, len(named) - 1, target))

    for slot in (s for strip in _strips(session) for s in strip.chain.plugin_slots()):
        mapped(_target(session, slot), slot)
    for n, strip in enumerate(session.tracks):
        mapped(MappingTarget(n, "gain"), strip)
        mapped(MappingTarget(n, "pan"), strip)
        mapped(MappingTarget(n, "send", send=strip.sends[0].bus), strip.sends[0])
    for n, strip in enumerate(session.busses):
        mapped(MappingTarget(None, "gain", bus=n), strip)
        mapped(MappingTarget(None, "pan", bus=n), strip)
    return session, named


def _plays(session: Session, what: object) -> bool:
    """Is ``what`` (a slot, a track or bus, or a send) in the session now?"""
    strips = [*session.tracks, *session.busses]
    if isinstance(what, (Slot, Split)):
        return _where(session, what) is not None
    if isinstance(what, Send):
        return any(what is send for strip in strips for send in strip.sends)
    return any(what is strip for strip in strips)


def _moving(session: Session, mapping: CCMapping) -> object:
    target = mapping.target
    return target.item(session) if target.kind == "parameter" else \
        target.send_of(session) if target.kind == "send" else target.owner(session)


def _check(session: Session, named: dict[int, object]) -> None:
    """Every controller moves what it moved at the start (slot, strip, send), or is gone exactly while that is
    nowhere in the session."""
    by_controller: dict[int, list[CCMapping]] = {}
    for mapping in session.midi.mappings:
        by_controller.setdefault(mapping.controller, []).append(mapping)
    assert set(by_controller) <= set(named)
    for n, what in named.items():
        if not _plays(session, what):
            assert n not in by_controller, f"controller {n} still mapped although {what!r:.60} was removed"
        else:
            [mapping] = by_controller.get(n, [None])
            assert mapping is not None, f"controller {n} lost although its {what!r:.60} plays"
            assert _moving(session, mapping) is what


def _new_item(kind: str) -> Slot | Split:
    if kind == "split":
        return Split([Branch(Chain([Slot(Plugin.create("Gain"))])), Branch()])
    return Slot(Plugin.create(kind))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data())
def test_random_adds_removes_moves_undos_and_redos_keep_every_mapping_on_its_own_slot(data):
    """Slots and splits added, removed and moved through ``session.edit`` in any chain (a strip's or a branch's),
    tracks and busses added, removed and moved, busses renamed, undone and redone at random: after each step
    every mapping names the same slot, strip or send object it named at the start, or is absent exactly while
    that is removed; undoing everything gives back the first mappings, the same objects in the same order."""
    session, named = _random_session()
    first = list(session.midi.mappings)
    edit = session.edit
    made = iter(range(1, 1000))
    for _ in range(data.draw(st.integers(1, 12), "steps")):
        chains = [c for strip in _strips(session) for c in _chains(strip.chain)]
        filled = [c for c in chains if len(c)]
        tracks, busses = session.tracks, session.busses
        action = data.draw(st.sampled_from(["add", "remove", "move", "undo", "redo", "add track", "remove track",
                                            "move track", "add bus", "remove bus", "rename bus"]), "action")
        if action == "add track":
            track = Track(f"track {next(made)}", input=(0, 1), chain=parse_chain("Gain"))
            edit.add_track(session, track, data.draw(st.integers(0, len(tracks)), "at"))
        elif action == "remove track" and tracks:
            edit.remove_track(session, data.draw(st.sampled_from(tracks), "track"))
        elif action == "move track" and tracks:
            track = data.draw(st.sampled_from(tracks), "track")
            edit.move_track(session, track, data.draw(st.integers(-1, len(tracks)), "to"))
        elif action == "add bus":
            edit.add_bus(session, Bus(f"bus {next(made)}", parse_chain("Compressor")),
                         data.draw(st.integers(0, len(busses)), "at"))
        elif action == "remove bus" and busses:
            edit.remove_bus(session, data.draw(st.sampled_from(busses), "bus"))
        elif action == "rename bus" and busses:
            edit.rename_bus(session, data.draw(st.sampled_from(busses), "bus"), f"bus {next(made)}")
        elif action == "add":
            chain = data.draw(st.sampled_from(chains), "into")
            item = _new_item(data.draw(st.sampled_from(["Gain", "Compressor", "Reverb", "split"]), "added"))
            edit.add_slot(chain, item, data.draw(st.integers(0, len(chain)), "at"))
        elif action in ("remove", "move") and filled:
            chain = data.draw(st.sampled_from(filled), "chain")
            at = data.draw(st.integers(0, len(chain) - 1), "slot")
            if action == "remove":
                edit.remove_slot(chain, at)
            else:
                edit.move_slot(chain, at, data.draw(st.integers(0, len(chain) - 1), "to"))
        elif action == "undo":
            session.undo()
        elif action == "redo":
            session.redo()
        _check(session, named)
    while session.undo() is not None:
        pass
    assert session.midi.mappings == first and all(a is b for a, b in zip(session.midi.mappings, first))


# -- the window: its own following around the same edits ----------------------------------------------------------


@pytest.fixture
def app(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav")).chain = parse_chain(DRUMS)
    session.add_track("bass", wav_file(program_signal(2, 1.0, seed=2), "bass.wav")).chain = parse_chain("Gain")
    for n, parameter in enumerate(("gain_db", "threshold_db", "room_size")):
        session.midi.add(CCMapping(1, 20 + n, MappingTarget(0, "parameter", n, parameter)))
    session.midi.add(CCMapping(1, 30, MappingTarget(1, "gain")))
    path = tmp_path / "song.json"
    save_session(session, path)
    with built_window(path) as rack:
        yield rack


def _targets(app) -> dict[int, tuple[int, str]]:
    """The drums' controllers: the slot and parameter each moves."""
    return {m.controller: (m.target.slot, m.target.parameter) for m in app.session.midi.mappings
            if m.target.kind == "parameter"}


def test_the_windows_remove_and_move_repoint_once_say_a_dropped_mapping_once_and_undo_brings_it_back(app):
    chain = app.session.tracks[0].chain
    gain, comp, reverb = list(chain)
    before, history = list(app.session.midi.mappings), steps(app)
    app.remove_slot(0, 0)  # the Gain: the others' controllers move up one place, not two
    assert _targets(app) == {21: (0, "threshold_db"), 22: (1, "room_size")} and steps(app) == history + 1
    dropped = [line for line in app.messages if "CC 20" in line]
    assert dropped == ["channel 1 CC 20 -> track 1 slot 0.gain_db: its Gain slot was removed"], app.messages
    app.move_slot(0, 1, -1)  # the Reverb up before the Compressor
    assert list(chain) == [reverb, comp] and _targets(app) == {21: (1, "threshold_db"), 22: (0, "room_size")}
    app.undo()
    app.undo()
    assert list(chain) == [gain, comp, reverb]
    assert app.session.midi.mappings == before and all(a is b for a, b in zip(app.session.midi.mappings, before))
    assert len([line for line in app.messages if "CC 20" in line]) == 1
    app.redo()
    assert _targets(app) == {21: (0, "threshold_db"), 22: (1, "room_size")}
    assert len([line for line in app.messages if "CC 20" in line]) == 2  # said again as it goes again


def test_the_windows_track_removal_says_each_dropped_mapping_once_and_undo_brings_them_back(app):
    drums, bass = app.session.tracks
    before, history = list(app.session.midi.mappings), steps(app)
    app.remove_track(0)
    assert steps(app) == history + 1 and app.session.tracks == [bass]
    assert [m.controller for m in app.session.midi.mappings] == [30]
    assert app.session.midi.mappings[0].target == MappingTarget(0, "gain")
    dropped = [line for line in app.messages if "its track was removed" in line]
    assert len(dropped) == 3 and len(set(dropped)) == 3, app.messages
    app.undo()
    assert app.session.tracks == [drums, bass]
    assert app.session.midi.mappings == before and all(a is b for a, b in zip(app.session.midi.mappings, before))
    app.redo()
    assert len([line for line in app.messages if "its track was removed" in line]) == 6  # said again as they go


def test_the_first_edit_after_the_window_opens_a_session_follows_its_mappings_too(app):
    """A track moved before any other structural edit: the editor re-points its mappings, and the window's own
    following (anchored when it opened) leaves them there."""
    drums, bass = app.session.tracks
    app.move_track(1, -1)
    assert app.session.tracks == [bass, drums]
    assert {m.controller: m.target.track for m in app.session.midi.mappings} == {20: 1, 21: 1, 22: 1, 30: 0}
    assert app.session.midi.for_controller(1, 21)[0].target.plugin(app.session) is drums.chain[1].plugin
