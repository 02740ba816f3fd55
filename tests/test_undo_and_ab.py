"""Undo/redo of every model change, and A/B compare of chains."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Plugin, Session, render
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.apply import apply_preset
from rackhost.presets.store import PresetStore


def _state(session: Session) -> dict:
    doc = session_to_dict(session)
    for owner in doc["tracks"] + [doc["master"]]:
        for chain in [owner["chain"]] + ([owner["ab"]["other"]["chain"]] if owner["ab"]["other"] else []):
            for slot in chain:
                slot.pop("raw_state", None)  # the named values say the same, readably
    return copy.deepcopy(doc)


@pytest.fixture
def session():
    s = Session(sample_rate=SR, block_size=256)
    s.add_track("gtr", ArraySource(program_signal(2, 0.5), SR))
    s.add_track("vox", ArraySource(program_signal(1, 0.5, seed=4), SR))
    return s


def test_every_kind_of_edit_undoes_and_redoes_to_the_exact_state(session):
    gtr, vox = session.tracks
    edit = session.edit
    steps = [
        lambda: edit.add_slot(gtr.chain, Plugin.create("ZamCompX2")),
        lambda: edit.add_slot(gtr.chain, Plugin.create("Reverb"), 0),
        lambda: edit.set_parameter(gtr.chain[1], "threshold_db", -30.0),
        lambda: edit.set_mix(gtr.chain[0], 0.4),
        lambda: edit.set_bypass(gtr.chain[0], True),
        lambda: edit.move_slot(gtr.chain, 0, 1),
        lambda: edit.set_gain(vox, -4.5),
        lambda: edit.set_pan(vox, 0.3),
        lambda: edit.set_mute(gtr, True),
        lambda: edit.set_solo(vox, True),
        lambda: edit.set_gain(session.master, -1.0),
        lambda: apply_preset(PresetStore().load("tracking/vocal"), session, vox),
        lambda: edit.switch_ab(vox),
        lambda: edit.remove_slot(gtr.chain, "Reverb"),
    ]
    states = [_state(session)]
    for step in steps:
        step()
        session.history.seal()
        states.append(_state(session))
    assert states[-1] != states[0]
    for expected in reversed(states[:-1]):
        assert session.undo() is not None
        assert _state(session) == expected
    assert session.undo() is None
    for expected in states[1:]:
        assert session.redo() is not None
        assert _state(session) == expected


def test_a_parameter_drag_is_one_undo_step(session):
    slot = session.edit.add_slot(session.tracks[0].chain, Plugin.create("Compressor"))
    session.history.seal()
    for value in np.linspace(0, -30, 25):
        session.edit.set_parameter(slot, "threshold_db", float(value))
    session.history.seal()  # mouse released
    session.edit.set_parameter(slot, "threshold_db", -10.0)
    session.undo()
    assert slot.plugin.get("threshold_db") == pytest.approx(-30.0)
    session.undo()
    assert slot.plugin.get("threshold_db") == pytest.approx(0.0)  # back to before the drag
    assert session.undo() == "add Compressor"


def test_loading_a_preset_is_undone_with_the_old_plugins_intact(session):
    vox = session.tracks[1]
    comp = session.edit.add_slot(vox.chain, Plugin.create("ZamComp", ratio=6))
    before = render(session).audio
    apply_preset(PresetStore().load("tracking/vocal"), session, vox)
    assert vox.chain.origin == "tracking/vocal"
    session.undo()
    assert vox.chain[0] is comp and vox.chain.origin is None
    assert np.array_equal(render(session).audio, before)


def test_a_bad_edit_records_nothing(session):
    slot = session.edit.add_slot(session.tracks[0].chain, Plugin.create("Compressor"))
    session.history.seal()
    with pytest.raises(Exception, match="out of range"):
        session.edit.set_parameter(slot, "ratio", 1000)
    assert session.undo() == "add Compressor"


def test_ab_compare_switches_between_two_independent_settings(session):
    gtr = session.tracks[0]
    session.edit.add_slot(gtr.chain, Plugin.create("ZamCompX2", threshold_db=-10))
    a_render = render(session).audio
    session.edit.switch_ab(gtr)  # B starts as a copy of A
    assert gtr.ab.active == "B"
    assert np.array_equal(render(session).audio, a_render)
    session.edit.set_parameter(gtr.chain[0], "threshold_db", -40.0)
    b_render = render(session).audio
    assert not np.array_equal(b_render, a_render)
    session.edit.switch_ab(gtr)
    assert gtr.ab.active == "A" and gtr.chain[0].plugin.get("threshold_db") == pytest.approx(-10)
    assert np.array_equal(render(session).audio, a_render)


def test_ab_and_preset_origin_are_saved_with_the_session(session, tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("gtr", wav_file(program_signal(2, 0.5), "g.wav"))
    apply_preset(PresetStore().load("mixing/drum-bus"), session, track)
    session.edit.switch_ab(track)
    session.edit.set_mix(track.chain[0], 0.2)
    save_session(session, tmp_path / "s.json")
    loaded = load_session(tmp_path / "s.json")
    lt = loaded.tracks[0]
    assert lt.ab.active == "B" and lt.chain.origin == "mixing/drum-bus"
    assert lt.chain[0].mix == pytest.approx(0.2) and lt.ab.other[0].mix == pytest.approx(0.7)
    assert np.array_equal(render(loaded).audio, render(session).audio)
