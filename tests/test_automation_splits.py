"""Envelopes on plug-ins inside a split's branches: on time to 32 samples (after a latent plug-in too), the live
callback equal to the offline render at any block size (and under JACK), saved in the session by slot path, and
undoable. Real plug-ins: pedalboard's built-ins, Debian's ZamCompX2 and ZaMaximX2 (480 samples of latency)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.automated import GRID
from rackhost.chain.automation import (
    AutomationError,
    Envelope,
    Point,
    SlotTarget,
    check_envelope,
    find,
    playing,
)
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import (
    SessionFileError,
    load_session,
    save_session,
    session_to_dict,
)

BLOCKS = st.sampled_from([32, 48, 64, 100, 128, 256, 500, 512, 1024, 4096])


def _automate(owner, target, *points) -> Envelope:
    envelope = check_envelope(owner, Envelope(target, tuple(Point(*p) for p in points)))
    owner.automation.append(envelope)
    return envelope


def _sine(seconds: float, amplitude: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * 441.0 * t)).astype(np.float32)[None, :]


# -- timing ---------------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=BLOCKS, where=st.floats(0.05, 0.95, allow_subnormal=False))
def test_a_step_in_a_gain_inside_a_branch_lands_within_32_samples_of_its_time_whatever_the_block_size(block, where):
    audio = np.full((1, SR), 0.5, np.float32)
    session = Session(sample_rate=SR, block_size=block, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    track.chain = parse_chain("Gain(gain_db=-6); [Gain(gain_db=0) | @ -inf]")
    t = round(where, 4)
    _automate(track, SlotTarget(track.chain[1].branches[0].chain[0], "gain_db"), (0.0, 0.0, "step"), (t, -20.0))
    out = render(session, tail=False).audio[0]
    before = 0.5 * 10 ** (-6 / 20)
    assert out.shape == (SR,) and out[0] == pytest.approx(before, rel=1e-5)
    changed = np.flatnonzero(np.abs(out - before) > 1e-4)
    assert abs(int(changed[0]) - t * SR) <= GRID
    assert np.allclose(out[int(changed[0]):], before * 0.1, rtol=1e-4)  # and it stays 20 dB down after the step


@pytest.mark.parametrize("chain", ["[ZaMaximX2(threshold_db=0); Gain(gain_db=0) | @ -inf]",
                                   "ZaMaximX2(threshold_db=0); [Gain(gain_db=0) | ]"])
def test_a_step_after_a_latent_plugin_acts_on_the_audio_that_was_at_its_time_in_the_source(chain):
    """ZaMaximX2 (480 samples) in front of the branch's Gain, in the branch or before the split: the envelope is
    read that much later, so the step lands where it is drawn in the (latency-compensated) render."""
    sine = _sine(1.0)
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(sine, SR))
    track.chain = parse_chain(chain)
    gain = list(track.chain.plugin_slots())[-1]
    _automate(track, SlotTarget(gain, "gain_db"), (0.0, 0.0, "step"), (0.5, -40.0))
    out = render(session, tail=False).audio[0]
    assert session.snapshot().latency == 480
    loud = np.abs(sine[0]) > 0.1  # where the gain can be read from the ratio
    ratio = np.abs(out) / np.maximum(np.abs(sine[0]), 1e-9)
    # Beside a dry branch the sum goes from 1 + 1 to 1 + 0.01; alone, from 1 to 0.01.
    before, after = (2.0, 1.01) if "| ]" in chain else (1.0, 0.01)
    stepped = np.flatnonzero(loud & (ratio < (before + after) / 2))
    assert SR // 2 <= stepped[0] <= SR // 2 + GRID
    heard, frames = ratio[loud], np.flatnonzero(loud)
    assert np.allclose(heard[frames < SR // 2], before, rtol=1e-3)
    assert np.allclose(heard[frames >= SR // 2 + GRID], after, rtol=1e-3)


@pytest.mark.parametrize("width", [1, 2])
def test_an_envelope_on_a_slot_after_a_latent_split_plays_on_time(width):
    """A slot after a split (ZaMaximX2 in a branch: 480 samples) reads its envelope that much later; this render
    used to stop with AttributeError ('Split' object has no attribute 'plugin')."""
    audio = np.full((width, SR), 0.5, np.float32)
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    track.chain = parse_chain("[ZaMaximX2(threshold_db=0) | @ -inf]; Gain(gain_db=0)")
    _automate(track, SlotTarget(track.chain[1], "gain_db"), (0.0, 0.0, "step"), (0.5, -20.0))
    out = render(session, tail=False).audio
    assert session.snapshot().latency == 480
    steady = out[0, SR // 4]
    assert abs(steady - 0.5) < 0.01  # the maximizer passes a -6 dBFS level as it is
    assert np.flatnonzero(np.abs(out[0] - steady) > 1e-3)[0] == SR // 2
    assert np.allclose(out[:, SR // 2 + GRID:], steady * 0.1, rtol=1e-3)


def test_a_wet_dry_envelope_inside_a_branch_crossfades_that_slot():
    audio = np.full((1, SR), 0.5, np.float32)
    session = Session(sample_rate=SR, block_size=512, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    track.chain = parse_chain("[Gain(gain_db=-40) | @ -inf]")
    _automate(track, SlotTarget(track.chain[0].branches[0].chain[0], "_mix"), (0.0, 0.0, "step"), (0.5, 1.0))
    out = render(session, tail=False).audio[0]
    assert np.all(out[: SR // 2] == 0.5) and np.allclose(out[SR // 2:], 0.005, rtol=1e-4)


def test_an_envelope_inside_a_bypassed_split_or_on_a_bypassed_plugin_is_kept_but_not_played():
    audio = program_signal(2, 0.5, seed=3)
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("in", ArraySource(audio, SR))
    track.chain = parse_chain("[Gain(gain_db=0) | ]")
    split, gain = track.chain[0], track.chain[0].branches[0].chain[0]
    plain = render(session, tail=False).audio
    envelope = _automate(track, SlotTarget(gain, "gain_db"), (0.0, 0.0, "step"), (0.2, -30.0))
    assert not np.array_equal(render(session, tail=False).audio, plain)
    for bypassed in (split, gain):
        bypassed.bypass = True
        assert playing(track) == [] and track.automation == [envelope]
        bypassed.bypass = False
    assert playing(track) == [envelope]


def test_the_split_itself_and_a_slot_of_another_strip_cannot_be_automated():
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("in", ArraySource(program_signal(2, 0.2), SR))
    other = session.add_track("other", ArraySource(program_signal(2, 0.2), SR))
    track.chain = parse_chain("[Gain | ]")
    other.chain = parse_chain("[Gain | ]")
    with pytest.raises(AutomationError, match="'split' is a split .* automate a plug-in inside one of its branches"):
        check_envelope(track, Envelope(SlotTarget(track.chain[0], "gain_db"), (Point(0.0, 0.0),)))
    with pytest.raises(AutomationError, match="slot 'Gain' is not in the chain of track 'in'"):
        check_envelope(track, Envelope(SlotTarget(other.chain[0].branches[0].chain[0], "gain_db"),
                                       (Point(0.0, 0.0),)))


# -- live: the same block engine, block by block ------------------------------------------------------------------

# A track's chain with envelopes inside a split: a VST3 (ZamCompX2) and a Gain in branch 1, a Compressor after a
# latent ZaMaximX2 in branch 2 (its threshold and its wet/dry), a Gain in a split nested in branch 3, a dry branch.
LIVE_CHAIN = ("Compressor(threshold_db=-12, ratio=4); "
              "[ZamCompX2(ratio=4); Gain(gain_db=0) @ -3 "
              "| ZaMaximX2(threshold_db=-3); Compressor(threshold_db=-20, ratio=6) @ -6 "
              "| [Gain(gain_db=0) | ] @ -6 "
              "| ]")


def _live_session(signal: np.ndarray | None, block: int) -> Session:
    session = Session(sample_rate=SR, block_size=block)
    track = session.add_track("gtr", ArraySource(signal, SR) if signal is not None else None,
                              input=() if signal is not None else (0, 1))
    track.chain = parse_chain(LIVE_CHAIN)
    split = track.chain[1]
    zam, gain = split.branches[0].chain
    comp = split.branches[1].chain[1]
    nested = split.branches[2].chain[0].branches[0].chain[0]
    _automate(track, SlotTarget(zam, "threshold_db"), (0.0, 0.0), (0.4, -30.0))
    _automate(track, SlotTarget(gain, "gain_db"), (0.0, 0.0, "step"), (0.15, -12.0, "smooth"), (0.35, 3.0))
    _automate(track, SlotTarget(comp, "threshold_db"), (0.0, -6.0), (0.2, -30.0, "step"), (0.3, -10.0))
    _automate(track, SlotTarget(comp, "_mix"), (0.0, 1.0), (0.4, 0.3))
    _automate(track, SlotTarget(nested, "gain_db"), (0.1, 0.0, "step"), (0.25, -20.0))
    return session


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([64, 100, 128, 256, 500, 512]))
def test_the_live_callback_plays_envelopes_inside_splits_as_the_offline_render_whatever_the_block_size(block):
    signal = program_signal(2, 0.5, seed=7)
    signal = signal[:, : signal.shape[1] // block * block]
    live = _run(_started(_live_session(None, block)), signal, block)
    offline_session = _live_session(signal, block)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
    still = _live_session(signal, block)
    still.tracks[0].automation.clear()
    assert np.max(np.abs(render(still, tail=False).audio - offline)) > 0.05  # the envelopes did play


def test_live_playback_of_envelopes_inside_a_split_equals_the_offline_render_under_jack(jack_server):
    """A file track played from the transport (its envelopes read at the transport position), captured under
    JACK, against the offline render of the same session."""
    from live_takes import assert_playback_equals_offline

    signal = program_signal(2, 1.0, seed=12)

    def session() -> Session:
        s = _live_session(signal, 128)
        s.tracks[0].automation.append(Envelope(SlotTarget(s.tracks[0].chain[0], "threshold_db"),
                                               (Point(0.0, -12.0), Point(0.9, -24.0))))  # one outside the split
        return s

    assert_playback_equals_offline(jack_server, session, signal.shape[1] + 80 * 128)


# -- files and undo ----------------------------------------------------------------------------------------------


def _file_session(source) -> Session:
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("drums", source)
    track.chain = parse_chain("Gain(gain_db=-1); [Compressor(threshold_db=-30, ratio=8) @ -6 | [Gain | ] @ -3]")
    session.add_bus("glue", parse_chain("[Gain | ]"))
    track.output = "glue"
    split = track.chain[1]
    _automate(track, SlotTarget(split.branches[0].chain[0], "threshold_db"), (0.0, -30.0), (0.4, -10.0, "step"))
    _automate(track, SlotTarget(split.branches[1].chain[0].branches[0].chain[0], "_mix"), (0.0, 1.0), (0.5, 0.0))
    _automate(track, SlotTarget(track.chain[0], "gain_db"), (0.0, -1.0), (0.5, -3.0))
    bus = session.bus("glue")
    _automate(bus, SlotTarget(bus.chain[0].branches[0].chain[0], "gain_db"), (0.0, 0.0), (0.3, -12.0))
    return session


def test_envelopes_inside_splits_are_saved_by_slot_path_and_load_playing_the_same(tmp_path, wav_file):
    session = _file_session(wav_file(program_signal(2, 0.6, seed=4), "drums.wav"))
    path = tmp_path / "song.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 12
    assert [e["slot"] for e in doc["tracks"][0]["automation"]] == [[1, 0, 0], [1, 1, 0, 0, 0], 0]
    assert [e["slot"] for e in doc["busses"][0]["automation"]] == [[0, 0, 0]]
    loaded = load_session(path)
    split = loaded.tracks[0].chain[1]
    targets = [e.target for e in loaded.tracks[0].automation]
    assert targets[0].slot is split.branches[0].chain[0] and targets[0].parameter == "threshold_db"
    assert targets[1].slot is split.branches[1].chain[0].branches[0].chain[0] and targets[1].parameter == "_mix"
    assert loaded.busses[0].automation[0].target.slot is loaded.busses[0].chain[0].branches[0].chain[0]
    assert session_to_dict(loaded, tmp_path) == session_to_dict(session, tmp_path)
    np.testing.assert_array_equal(render(loaded, tail=False).audio, render(session, tail=False).audio)


def test_a_version_11_session_opens_unchanged(tmp_path, wav_file):
    """A file from before slot paths (every envelope on a slot of its strip's own chain) opens as it was."""
    session = _file_session(wav_file(program_signal(2, 0.3, seed=4), "drums.wav"))
    for strip in (*session.tracks, *session.busses):
        strip.automation[:] = [e for e in strip.automation if e.target.slot in strip.chain.slots]
    doc = session_to_dict(session, tmp_path)
    old = dict(doc, format_version=11)
    (tmp_path / "v11.json").write_text(json.dumps(old))
    loaded = load_session(tmp_path / "v11.json")
    assert session_to_dict(loaded, tmp_path) == doc
    assert loaded.tracks[0].automation[0].target.slot is loaded.tracks[0].chain[0]


@pytest.mark.parametrize("slot, says", [
    ([1, 2, 0], "tracks[0].automation[0].slot: split 'split' has no branch 2 (it has 2)"),
    ([0, 0, 0], "tracks[0].automation[0].slot: slot 0 (Gain) is not a split: it has no branch 0"),
    ([1, 0], "tracks[0].automation[0].slot: expected a slot path [split slot, branch, slot]"),
    ([1, 0, 0, 0, 0], "tracks[0].automation[0].slot: slot 0 (Compressor) is not a split"),
    ([1, 1, 0], "tracks[0].automation[0]: 'split' is a split (parallel branches), which has no parameters"),
])
def test_a_bad_slot_path_in_a_file_is_refused_naming_where(tmp_path, wav_file, slot, says):
    session = _file_session(wav_file(program_signal(2, 0.3, seed=4), "drums.wav"))
    doc = session_to_dict(session, tmp_path)
    doc["tracks"][0]["automation"][0]["slot"] = slot
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(SessionFileError) as caught:
        load_session(tmp_path / "bad.json")
    assert says in str(caught.value)


def test_automating_a_branch_plugin_and_editing_its_points_are_undone_and_redone_one_step_each():
    audio = program_signal(2, 0.5, seed=9)
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("in", ArraySource(audio, SR))
    track.chain = parse_chain("[Compressor(threshold_db=-6, ratio=8) | ] ")
    comp = track.chain[0].branches[0].chain[0]
    target = SlotTarget(comp, "threshold_db")
    plain = render(session, tail=False).audio
    envelope = session.edit.add_envelope(track, Envelope(target, (Point(0.0, -6.0, "step"), Point(0.1, -40.0))))
    session.history.seal()
    first = render(session, tail=False).audio
    assert np.max(np.abs(first - plain)) > 0.05
    session.edit.set_points(track, envelope, (Point(0.0, -6.0, "step"), Point(0.3, -40.0)))
    session.history.seal()
    second = render(session, tail=False).audio
    assert np.max(np.abs(second - first)) > 0.05
    assert session.history.labels()[0][-2:] == ["automate Compressor.threshold_db",
                                                "edit automation of Compressor.threshold_db"]
    session.history.undo()
    np.testing.assert_array_equal(render(session, tail=False).audio, first)
    session.history.undo()
    assert find(track, target) is None
    np.testing.assert_array_equal(render(session, tail=False).audio, plain)
    session.history.redo()
    session.history.redo()
    np.testing.assert_array_equal(render(session, tail=False).audio, second)


# -- writing: touch on a plug-in inside a split -------------------------------------------------------------------


def test_touch_on_a_plugin_inside_a_split_writes_its_envelope_and_release_names_it_by_path():
    """The window's move reaches the engine as SetParameter(path=...); the pass is reported and released by an
    EnvelopeRef carrying the same path, and comes back as one undo step."""
    from rackhost.live.commands import EnvelopeRef, Release, SetParameter
    from rackhost.live.process import apply_command

    block = 128
    session = Session(sample_rate=SR, block_size=block)
    track = session.add_track("dc", ArraySource(np.full((2, SR * 2), 0.5, np.float32), SR))
    track.chain = parse_chain("Gain(gain_db=0); [Gain(gain_db=0) | @ -inf]")
    gain = track.chain[1].branches[0].chain[0]
    target = SlotTarget(gain, "gain_db")
    envelope = check_envelope(track, Envelope(target, (Point(0.0, 0.0),), "touch"))
    track.automation.append(envelope)
    ref = EnvelopeRef.of(track, target)
    assert ref == EnvelopeRef(slot=1, parameter="gain_db", path=(0, 0)) and ref.target(track) == target

    def apply(command) -> None:
        needs = apply_command(engine, command)
        if needs == 2:
            engine.update()
        elif needs == 1:
            engine.update_mix()

    engine = _started(session)
    silence = np.zeros((2, block * 10), np.float32)
    _run(engine, silence, block)
    apply(SetParameter(0, 1, "gain_db", -6.0, (0, 0)))
    out = _run(engine, silence, block)
    assert out[0, -1] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-5)  # the held value plays
    assert engine.writing(track, target)
    apply(Release(0, ref))
    assert not engine.writing(track, target)
    engine.stop()
    assert any(p.value == -6.0 for p in envelope.points)
    assert engine.written and engine.written[-1].target == ref
    assert session.undo().startswith("write automation (touch)")
    assert envelope.points == (Point(0.0, 0.0),)
    with pytest.raises(ValueError, match="path goes with a slot"):
        EnvelopeRef(control="gain_db", path=(0, 0))
