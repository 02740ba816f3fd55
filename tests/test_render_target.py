"""A render to a loudness target leaves its session as it was, repeats itself, and keeps its gain only when asked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SR, program_signal
from rackhost.chain import ArraySource, LoudnessTarget, Session, render
from rackhost.chain.mastering import LoudnessTargetError
from rackhost.presets.apply import apply_preset
from rackhost.presets.session_file import session_to_dict
from rackhost.presets.store import PresetStore


def _session(target: LoudnessTarget, seconds: float = 3.0, with_gain_slot: bool = False) -> Session:
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(program_signal(2, seconds), SR))
    session.master.chain.add("Compressor", threshold_db=-18.0, ratio=2.0)
    if with_gain_slot:
        session.master.chain.add("Gain", gain_db=1.5)
    session.master.chain.add("BrickwallLimiter", true_peak=True)
    session.master.loudness_target = target
    return session


def _picture(session: Session) -> tuple[str, list, tuple, int]:
    """Everything a render could change: the document, which slot objects hold which plug-ins, the history."""
    slots = [(id(s), id(s.plugin), s.bypass, s.mix) for t in session.tracks for s in t.chain]
    slots += [(id(s), id(s.plugin), s.bypass, s.mix) for s in session.master.chain]
    return json.dumps(session_to_dict(session), sort_keys=True), slots, session.history.labels(), session.history.changes


targets = st.builds(LoudnessTarget, st.floats(-24.0, -8.0), st.floats(-2.0, -0.1))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=targets, with_gain_slot=st.booleans())
def test_a_targeted_render_changes_nothing_in_the_session_and_repeats_bit_for_bit(target, with_gain_slot):
    session = _session(target, with_gain_slot=with_gain_slot)
    before = _picture(session)
    first = render(session)
    assert _picture(session) == before
    second = render(session)
    assert _picture(session) == before
    assert np.array_equal(first.audio, second.audio)
    assert first.target_report.gain_db == second.target_report.gain_db
    assert first.target_report.within


def test_a_factory_mastering_preset_with_vst3s_renders_the_same_twice_and_changes_nothing():
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(program_signal(2, 6.0), SR))
    apply_preset(PresetStore().load("mastering/cd"), session)
    before = _picture(session)
    values = [s.plugin.values() for s in session.master.chain]
    first = render(session)
    second = render(session)
    assert _picture(session) == before
    assert [s.plugin.values() for s in session.master.chain] == values
    assert np.array_equal(first.audio, second.audio)


def test_keeping_the_found_gain_is_one_undoable_step_that_reproduces_the_master():
    session = _session(LoudnessTarget(-10.0, -0.5))
    before = _picture(session)
    targeted = render(session)
    report = targeted.target_report
    session.edit.keep_target_gain(session.master, report)
    names = [s.name for s in session.master.chain]
    assert names == ["Compressor", "Gain", "BrickwallLimiter"]
    assert session.master.chain[1].plugin.get("gain_db") == pytest.approx(report.gain_db)
    assert session.master.chain[2].plugin.get("ceiling_db") == pytest.approx(report.ceiling_db)
    assert session.history.labels()[0][-1] == "keep loudness target gain"
    # With the gain kept, the chain alone (no target to steer) gives the targeted master.
    session.master.loudness_target = None
    np.testing.assert_array_equal(render(session).audio, targeted.audio)
    session.master.loudness_target = LoudnessTarget(-10.0, -0.5)
    assert session.undo() == "keep loudness target gain"
    assert _picture(session)[0] == before[0] and [s.name for s in session.master.chain] == ["Compressor",
                                                                                          "BrickwallLimiter"]
    session.redo()
    assert session.master.chain[1].plugin.get("gain_db") == pytest.approx(report.gain_db)


def test_keeping_the_gain_sets_the_gain_slot_already_before_the_limiter():
    session = _session(LoudnessTarget(-12.0, -1.0), with_gain_slot=True)
    report = render(session).target_report
    session.edit.keep_target_gain(session.master, report)
    assert [s.name for s in session.master.chain] == ["Compressor", "Gain", "BrickwallLimiter"]
    assert session.master.chain[1].plugin.get("gain_db") == pytest.approx(report.gain_db)
    session.undo()
    assert session.master.chain[1].plugin.get("gain_db") == pytest.approx(1.5)


def test_keeping_a_gain_without_a_final_limiter_is_refused_clearly():
    session = _session(LoudnessTarget(-12.0, -1.0))
    report = render(session).target_report
    session.master.chain.set_bypass(-1)
    with pytest.raises(LoudnessTargetError, match="needs a limiter as the last slot"):
        session.edit.keep_target_gain(session.master, report)
    assert not session.history.can_undo
