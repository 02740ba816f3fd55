"""Each slot keeps its own plug-in instance in the running engine across structural edits, matched by the slot's
id (``Slot.uid``), never by its plug-in's name: two instances of one plug-in with the same settings (two
Reverbs, two Compressors, two MVerbs) do not trade places when one moves, nor through undo and redo, so neither
jumps to the other's state (its tail, its envelope follower). Saved files carry no ids.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.chain import item_at, path_of
from rackhost.cli.chain_spec import parse_chain
from rackhost.live.commands import Sync
from rackhost.live.process import SessionLoader, apply_command
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.session_file import FORMAT_VERSION
from rackhost.presets.session_sync import engine_document, resync, session_from_document


def _slots(session: Session) -> dict[str, object]:
    """Every plug-in slot of every strip, by id."""
    return {slot.uid: slot for strip in (*session.tracks, *session.busses, session.master)
            for slot in strip.chain.plugin_slots()}


def _loader() -> SessionLoader:
    return SessionLoader("unused", load=session_from_document, resync=resync)


@pytest.mark.parametrize("reverb", ["Reverb(room_size=0.9)", "MVerb"])
def test_two_alike_reverbs_keep_their_own_instances_when_one_moves_before_the_other_and_the_tail_goes_on(reverb):
    """The first of two reverbs with the same settings plays a signal (the second is bypassed, so it is silent);
    the window moves the second in front of it and syncs the engine; input stops. The playing reverb keeps its
    instance, so its tail rings on as if nothing had moved (an offline render of it alone). Matched by name and
    values the first slot of the new document (the bypassed one) took the playing reverb's instance, and the
    playing slot a silent one: its tail was cut."""
    sound = program_signal(2, 1.0, seed=43)[:, : BLOCK * 60]
    silence = np.zeros((2, BLOCK * 60), np.float32)
    window = Session(sample_rate=SR, block_size=BLOCK)
    window.add_track("guitar", None, input=(0, 1)).chain = parse_chain(f"{reverb}; {reverb}")
    window.tracks[0].chain[1].bypass = True
    engine_session = session_from_document(engine_document(window))  # as the window starts its engine
    playing = engine_session.tracks[0].chain[0].plugin
    engine = _started(engine_session)
    first = _run(engine, sound)
    assert window.edit.move_to(window, window.tracks[0], 1, (0,)) == (0,)
    apply_command(engine, Sync(engine_document(window)), _loader())
    engine.update()
    chain = engine.session.tracks[0].chain
    assert chain[1].plugin is playing and not chain[1].bypass and chain[0].bypass
    assert [s.uid for s in chain] == [s.uid for s in window.tracks[0].chain]
    tail = _run(engine, silence)
    offline = Session(sample_rate=SR, block_size=BLOCK)
    offline.add_track("guitar", ArraySource(np.concatenate([sound, silence], axis=1), SR)).chain = \
        parse_chain(reverb)
    expected = render(offline, tail=False).audio
    np.testing.assert_allclose(first, expected[:, : first.shape[1]], atol=1e-4)
    assert np.abs(tail).max() > 0.01  # the tail rings on over the silence
    np.testing.assert_allclose(tail, expected[:, first.shape[1]:], atol=1e-4)


MOVES = st.lists(st.one_of(st.tuples(st.just("move"), st.integers(0, 5), st.integers(0, 1), st.integers(0, 6)),
                           st.tuples(st.just("undo")), st.tuples(st.just("redo"))), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=MOVES)
def test_moves_between_strips_with_undo_and_redo_never_swap_the_instances_of_alike_compressors(moves):
    """Four built-in Compressors with the same settings on two strips (one inside a split); after every move, undo
    and redo the window syncs the engine, and every slot there still runs the instance made for it at the
    start."""
    window = Session(sample_rate=SR, block_size=BLOCK)
    window.add_track("drums", None, input=(0, 1)).chain = parse_chain("Compressor; [Compressor | ]; Compressor")
    window.add_track("bass", None, input=(0, 1)).chain = parse_chain("Compressor")
    engine_session = session_from_document(engine_document(window))
    instances = {uid: slot.plugin for uid, slot in _slots(engine_session).items()}
    assert set(instances) == set(_slots(window)) and len(instances) == 4
    for move in moves:
        if move[0] == "move":
            _, which, strip, place = move
            owners = window.tracks
            items = [(owner, path_of(owner.chain, slot)) for owner in owners for slot in owner.chain.plugin_slots()]
            owner, path = items[which % len(items)]
            to_owner = owners[strip]
            to = (place % (len(to_owner.chain) + 1),)
            window.edit.move_to(window, owner, path, to, to_owner)
        elif move[0] == "undo":
            window.undo()
        else:
            window.redo()
        engine_session, _ = resync(engine_session, engine_document(window))
        for k, track in enumerate(window.tracks):
            for slot in track.chain.plugin_slots():
                engine_slot = item_at(engine_session.tracks[k].chain, path_of(track.chain, slot))
                assert engine_slot.uid == slot.uid and engine_slot.plugin is instances[slot.uid]


def test_a_slot_the_engine_does_not_know_takes_an_unclaimed_instance_of_its_plugin_not_another_slots():
    """A preset recalled in the window brings new slots (new ids): the engine still reuses what it runs (a slow
    plug-in is not reloaded), but only instances no slot of the document keeps. Here vox's new Compressor has
    gtr's settings: by values alone it took gtr's running instance, and gtr's slot then took vox's old one."""
    window = Session(sample_rate=SR, block_size=BLOCK)
    window.add_track("vox", None, input=(0, 1)).chain = parse_chain("Compressor(threshold_db=-30)")
    window.add_track("gtr", None, input=(0, 1)).chain = parse_chain("Compressor(threshold_db=-10)")
    engine_session = session_from_document(engine_document(window))
    vox, gtr = (t.chain[0].plugin for t in engine_session.tracks)
    window.edit.load_chain(window.tracks[0], parse_chain("Compressor(threshold_db=-10)"))  # a new slot, new id
    engine_session, changes = resync(engine_session, engine_document(window))
    assert engine_session.tracks[1].chain[0].plugin is gtr  # gtr keeps its own
    assert engine_session.tracks[0].chain[0].plugin is vox  # vox's new slot reuses vox's old instance, set anew
    assert [(c.plugin, c.name, c.value) for c in changes] == [(vox, "threshold_db", -10.0)]


def test_a_saved_session_carries_no_slot_ids_and_its_format_is_unchanged(tmp_path):
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("drums", None, input=(0, 1)).chain = parse_chain("Gain; [Compressor | Gain]")
    save_session(session, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text()
    assert '"id"' not in text and json.loads(text)["format_version"] == FORMAT_VERSION
    loaded = load_session(tmp_path / "s.json")
    assert session_to_dict(loaded, tmp_path) == session_to_dict(session, tmp_path)
    assert not set(_slots(loaded)) & set(_slots(session))  # a loaded session's slots are new ones
    # The engine's document carries them, down into split branches, and the engine's slots take them.
    again = session_from_document(engine_document(session))
    assert [s.uid for s in again.tracks[0].chain.plugin_slots()] == \
        [s.uid for s in session.tracks[0].chain.plugin_slots()]
