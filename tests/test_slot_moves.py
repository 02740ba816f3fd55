"""Moving a slot between slot paths (``session.edit.move_to``): into a split's branch, out of it, between its
branches, to another strip; one undo step that gives back the same document; its envelopes follow; a split
cannot move into itself; and a running engine keeps the moved plug-in's instance, so its tail goes on.

The window's drag and drop (tests/test_split_window_drag.py) goes through this call.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, Split, render
from rackhost.chain.automation import Envelope, Point, SlotTarget, playing
from rackhost.chain.chain import item_at, path_of
from rackhost.cli.chain_spec import parse_chain
from rackhost.errors import SessionError, SplitIntoItselfError
from rackhost.live.commands import Sync
from rackhost.live.process import SessionLoader, apply_command
from rackhost.presets import session_to_dict
from rackhost.presets.session_sync import resync, session_from_document

# -- random split trees ------------------------------------------------------------------------------------

def _plugin() -> st.SearchStrategy[str]:
    return st.just("Gain")  # each given a gain of its own by _session


def _chain(depth: int) -> st.SearchStrategy[list[str]]:
    item = _plugin() if depth == 0 else st.one_of(_plugin(), _plugin(), _split(depth - 1))
    return st.lists(item, min_size=0, max_size=3)


def _split(depth: int) -> st.SearchStrategy[str]:
    branches = st.lists(_chain(depth), min_size=2, max_size=3)
    return branches.map(lambda bs: "[" + " | ".join("; ".join(b) for b in bs) + "]")


def _spec(items: list[str]) -> str:
    return "; ".join(items)


def _items(chain, at=()) -> list[tuple[tuple[int, ...], object]]:
    """Every slot and split under ``chain`` with its path."""
    out = []
    for i, item in enumerate(chain):
        out.append(((*at, i), item))
        for k, branch in enumerate(getattr(item, "branches", ())):
            out += _items(branch.chain, (*at, i, k))
    return out


def _places(chain, at=()) -> list[tuple[int, ...]]:
    """Every place a slot can go under ``chain``: each chain's slots and its end, as paths."""
    out = [(*at, i) for i in range(len(chain) + 1)]
    for i, item in enumerate(chain):
        for k, branch in enumerate(getattr(item, "branches", ())):
            out += _places(branch.chain, (*at, i, k))
    return out


def _shape(chain) -> tuple:
    """The tree of objects itself (identity), not just what it says."""
    return tuple((id(item), tuple(_shape(b.chain) for b in getattr(item, "branches", ()))) for item in chain)


def _session(first: list[str], second: list[str], distinct: bool = False) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", None, input=(0, 1)).chain = parse_chain(_spec(first))
    session.add_track("bass", None, input=(0, 1)).chain = parse_chain(_spec(second))
    # Every Gain a different value, so that a document tells them apart (two swapped: a changed document).
    slots = [s for t in session.tracks for s in t.chain.plugin_slots()] if distinct else []
    for n, slot in enumerate(slots):
        slot.plugin.set("gain_db", -0.5 * n)
    return session


def _automate(session: Session, owner, count: int) -> list[Envelope]:
    envelopes = []
    for slot in list(owner.chain.plugin_slots())[:count]:
        envelopes.append(session.edit.add_envelope(owner, Envelope(SlotTarget(slot, "gain_db"),
                                                                   (Point(0.0, -6.0), Point(1.0, -12.0)))))
    return envelopes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=_chain(2).filter(bool), second=_chain(1), data=st.data())
def test_a_move_between_random_slot_paths_is_one_step_undone_to_the_same_document_and_envelopes_follow(
        first, second, data):
    session = _session(first, second, distinct=True)
    drums, bass = session.tracks
    envelopes = _automate(session, drums, data.draw(st.integers(0, 4), "automated"))
    path, item = data.draw(st.sampled_from(_items(drums.chain)), "moved")
    to_owner = data.draw(st.sampled_from([drums, bass]), "to strip")
    to = data.draw(st.sampled_from(_places(to_owner.chain)), "to")
    before, shapes, steps = session_to_dict(session), (_shape(drums.chain), _shape(bass.chain)), \
        len(session.history.labels()[0])
    inside = isinstance(item, Split) and to_owner is drums and len(to) > len(path) and to[: len(path)] == path
    if inside:
        with pytest.raises(SplitIntoItselfError, match=f"split {item.name!r} .* cannot move into its own branch"):
            session.edit.move_to(session, drums, path, to, to_owner)
        assert session_to_dict(session) == before and len(session.history.labels()[0]) == steps
        return
    where = session.edit.move_to(session, drums, path, to, to_owner)
    if where is None:  # dropped where it was
        assert to_owner is drums and to[:-1] == path[:-1] and to[-1] in (path[-1], path[-1] + 1)
        assert session_to_dict(session) == before and len(session.history.labels()[0]) == steps
        return
    assert item_at(to_owner.chain, where) is item and path_of(drums.chain if to_owner is bass else bass.chain,
                                                               item) is None
    assert len(session.history.labels()[0]) == steps + 1
    moved = set(map(id, item.slots() if isinstance(item, Split) else [item]))
    after = session_to_dict(session)
    for envelope in envelopes:  # each on the strip its slot is on now, saved with the slot's path there
        owner = to_owner if id(envelope.target.slot) in moved else drums
        assert envelope in owner.automation and envelope in playing(owner)
        saved = after["tracks"][session.tracks.index(owner)]["automation"]
        at = path_of(owner.chain, envelope.target.slot)
        assert {"slot": at[0] if len(at) == 1 else list(at), "parameter": "gain_db",
                "points": [[0.0, -6.0], [1.0, -12.0]]} in saved
    session.undo()
    assert session_to_dict(session) == before and (_shape(drums.chain), _shape(bass.chain)) == shapes
    assert all(envelope in drums.automation for envelope in envelopes) and not bass.automation
    session.redo()
    assert session_to_dict(session) == after and item_at(to_owner.chain, where) is item


# -- the cases by name ---------------------------------------------------------------------------------------

DRUMS = "Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb"


def test_a_plugin_moves_from_the_chain_into_a_branch_between_branches_and_out_each_one_named_undo_step():
    session = _session([DRUMS], [])
    drums = session.tracks[0]
    gain, split = drums.chain[0], drums.chain[1]
    assert session.edit.move_to(session, drums, 0, (1, 1, 0)) == (0, 1, 0)  # into the dry branch
    assert [s.name for s in drums.chain] == ["split", "Reverb"] and split.branches[1].chain[0] is gain
    assert session.edit.move_to(session, drums, (0, 1, 0), (0, 0, 0)) == (0, 0, 0)  # before the Compressor
    assert [s.name for s in split.branches[0].chain] == ["Gain", "Compressor"] and split.branches[1].is_dry
    assert session.edit.move_to(session, drums, (0, 0, 0), (2,)) == (2,)  # out, last in the chain
    assert [s.name for s in drums.chain] == ["split", "Reverb", "Gain"]
    assert session.history.labels()[0] == ["move Gain into branch 2 of split", "move Gain into branch 1 of split",
                                           "move Gain out of split"]
    for _ in range(3):
        session.undo()
    assert drums.chain[0] is gain and [s.name for s in split.branches[0].chain] == ["Compressor"]


def test_a_split_cannot_move_into_its_own_branch_nor_deeper_and_nothing_changes():
    session = _session(["Gain; [Compressor | [Gain(gain_db=-3) | ] ; Delay]"], [])
    drums = session.tracks[0]
    before = session_to_dict(session)
    for to in ((1, 0, 0), (1, 1, 2), (1, 1, 0, 1, 0)):
        with pytest.raises(SplitIntoItselfError, match=r"split 'split' \(slot path \(1,\)\) cannot move into its "
                                                       r"own branch"):
            session.edit.move_to(session, drums, 1, to)
    with pytest.raises(SessionError, match="no place 5 to move Gain to in a chain of 2; give 0..2"):
        session.edit.move_to(session, drums, 0, (1, 1, 5))
    assert session_to_dict(session) == before and not session.history.labels()[0]
    # The inner split can leave the outer one, and go into the outer one's other branch.
    inner = drums.chain[1].branches[1].chain[0]
    assert session.edit.move_to(session, drums, (1, 1, 0), (1, 0, 1)) == (1, 0, 1)
    assert drums.chain[1].branches[0].chain[1] is inner


def test_an_envelope_follows_its_plugin_to_another_strip_plays_there_and_undo_brings_it_back():
    session = _session([DRUMS], ["Gain(gain_db=-3)"])
    drums, bass = session.tracks
    compressor = drums.chain[1].branches[0].chain[0]
    envelope = session.edit.add_envelope(drums, Envelope(SlotTarget(compressor, "threshold_db"),
                                                         (Point(0.0, -40.0), Point(1.0, -20.0))))
    assert session.edit.move_to(session, drums, (1, 0, 0), (0,), bass, "move Compressor to bass") == (0,)
    assert drums.automation == [] and bass.automation == [envelope] and playing(bass) == [envelope]
    assert session_to_dict(session)["tracks"][1]["automation"] == [
        {"slot": 0, "parameter": "threshold_db", "points": [[0.0, -40.0], [1.0, -20.0]]}]
    assert session.history.labels()[0][-1] == "move Compressor to bass"
    session.undo()
    assert drums.automation == [envelope] and bass.automation == [] and playing(drums) == [envelope]


def test_a_moved_plugin_sounds_in_its_new_place_as_a_session_built_there():
    signal = program_signal(2, 0.5, seed=41)
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", ArraySource(signal, SR)).chain = parse_chain(DRUMS)
    session.edit.move_to(session, session.tracks[0], 2, (1, 1, 0))  # the Reverb into the dry branch
    built = Session(sample_rate=SR, block_size=BLOCK)
    built.add_track("drums", ArraySource(signal, SR)).chain = parse_chain(
        "Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | Reverb]")
    np.testing.assert_array_equal(render(session, tail=False).audio, render(built, tail=False).audio)


# -- live: the engine keeps the moved plug-in ---------------------------------------------------------------

LIVE = "Reverb(room_size=0.9); [Gain(gain_db=0) | ]"


def _live_session() -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("guitar", None, input=(0, 1)).chain = parse_chain(LIVE)
    return session


def test_a_playing_reverb_moved_into_a_branch_keeps_its_instance_and_its_tail_goes_on():
    """The engine plays the Reverb on a signal; the window (its own copy) moves it into the split's first branch
    and sends the document; input then stops. The engine's Reverb is the same instance, and what comes out over
    the silence is its tail, as if it had never moved (an offline render of the Reverb alone); a new instance
    would be silent."""
    sound = program_signal(2, 1.0, seed=42)[:, : BLOCK * 60]
    silence = np.zeros((2, BLOCK * 60), np.float32)
    engine_session = _live_session()
    reverb = engine_session.tracks[0].chain[0].plugin
    engine = _started(engine_session)
    first = _run(engine, sound)
    window = _live_session()
    assert window.edit.move_to(window, window.tracks[0], 0, (1, 0, 1)) == (0, 0, 1)  # after the Gain
    apply_command(engine, Sync(session_to_dict(window)), SessionLoader("unused", load=session_from_document,
                                                                       resync=resync))
    engine.update()
    moved = engine.session.tracks[0].chain[0].branches[0].chain[1]
    assert moved.plugin is reverb and engine.session is not engine_session
    tail = _run(engine, silence)
    offline = Session(sample_rate=SR, block_size=BLOCK)
    offline.add_track("guitar", ArraySource(np.concatenate([sound, silence], axis=1), SR)).chain = \
        parse_chain("Reverb(room_size=0.9)")
    expected = render(offline, tail=False).audio
    # Before the move the Reverb fed both branches (a unity Gain, the dry path): twice its output.
    np.testing.assert_allclose(first, 2 * expected[:, : first.shape[1]], atol=1e-5)
    assert np.abs(tail).max() > 0.01  # the tail rings on over the silence
    np.testing.assert_allclose(tail, expected[:, first.shape[1]:], atol=1e-5)


def test_a_keyed_slot_is_not_moved_into_a_split_nor_onto_the_strip_keying_it_and_nothing_changes(wav_file):
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("voice", wav_file(program_signal(2, 0.2, seed=3), "voice.wav"))
    music = session.add_track("music", wav_file(program_signal(2, 0.2, seed=4), "music.wav"))
    music.chain = parse_chain("ZamCompX2(sidechain=1); [Gain | ]")
    session.edit.set_key(session, music.chain[0], "voice")
    before, steps = session_to_dict(session), len(session.history.labels()[0])
    with pytest.raises(SessionError, match="ZamCompX2 inside a split has a key"):
        session.edit.move_to(session, music, 0, (1, 1, 0))
    with pytest.raises(SessionError, match="routing loop"):
        session.edit.move_to(session, music, 0, (0,), session.tracks[0])
    assert session_to_dict(session) == before and len(session.history.labels()[0]) == steps
