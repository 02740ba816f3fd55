"""Envelopes as data: checked against their targets' ranges, saved in sessions (format 6), migrated, CSV files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import VST3_DIR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import Plugin, Session
from rackhost.chain.automation import (
    AutomationError,
    Envelope,
    Point,
    SendTarget,
    SlotTarget,
    StripTarget,
    check_envelope,
    csv_text,
    parse_points,
    read_csv,
    slot_target,
    write_csv,
)
from rackhost.chain.render import render
from rackhost.errors import UnknownParameterError
from rackhost.presets import SessionFileError, load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION


def _session(folder: Path, wav_file) -> Session:
    wav_file(program_signal(2, 0.5), "a.wav")
    session = Session()
    track = session.add_track("vox", str(folder / "a.wav"))
    track.chain.add("Gain", gain_db=0.0)
    track.chain.add(Plugin.load(VST3_DIR / "ZamCompX2.vst3"))
    session.add_bus("verb")
    track.add_send("verb", -12.0)
    return session


def _everything(session: Session) -> None:
    """An envelope on each kind of target."""
    track = session.tracks[0]
    gain, comp = track.chain.slots
    for target, points in [
        (SlotTarget(gain, "gain_db"), [(0.0, 0.0, "step"), (0.25, -20.0)]),
        (SlotTarget(comp, "threshold_db"), [(0.0, -10.0), (0.4, -30.0, "smooth"), (0.45, -5.0)]),
        (SlotTarget(comp, "_mix"), [(0.1, 0.5)]),
        (StripTarget("gain_db"), [(0.0, -3.0), (0.5, -150.0)]),
        (StripTarget("pan"), [(0.0, -1.0), (0.5, 1.0)]),
        (StripTarget("mute"), [(0.0, 0.0), (0.3, 1.0, "step")]),
        (SendTarget(track.sends[0]), [(0.0, -30.0), (0.2, 0.0)]),
    ]:
        track.automation.append(check_envelope(track, Envelope(target, tuple(Point(*p) for p in points))))
    bus = session.bus("verb")
    bus.automation.append(check_envelope(bus, Envelope(StripTarget("pan"), (Point(0.0, 0.5),))))
    session.master.automation.append(check_envelope(session.master, Envelope(StripTarget("gain_db"),
                                                                              (Point(0.0, 0.0), Point(0.5, -6.0)))))


def _described(session: Session) -> list:
    return [(strip, e.describe(), e.points) for strip, owner in
            [("vox", session.tracks[0]), ("verb", session.bus("verb")), ("master", session.master)]
            for e in owner.automation]


def test_every_kind_of_envelope_survives_a_save_and_load_and_renders_the_same(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    _everything(session)
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["tracks"][0]["automation"][1] == {
        "slot": 1, "parameter": "threshold_db", "points": [[0.0, -10.0], [0.4, -30.0, "smooth"], [0.45, -5.0]]}
    again = load_session(tmp_path / "s.json")
    assert _described(again) == _described(session)
    assert again.tracks[0].automation[0].target.slot is again.tracks[0].chain.slots[0]
    assert np.array_equal(render(session, tail=False).audio, render(again, tail=False).audio)


def test_a_version_4_session_opens_unchanged_with_no_envelopes_and_saves_as_the_current_version(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    save_session(session, tmp_path / "now.json")
    doc = json.loads((tmp_path / "now.json").read_text())
    old = dict(doc, format_version=4)
    for strip in (*old["tracks"], *old["busses"], old["master"]):
        del strip["automation"]
    (tmp_path / "v4.json").write_text(json.dumps(old))
    loaded = load_session(tmp_path / "v4.json")
    assert all(not s.automation for s in (*loaded.tracks, *loaded.busses, loaded.master))
    digest = [hashlib.sha256(render(s, tail=False).audio.tobytes()).hexdigest() for s in (session, loaded)]
    assert digest[0] == digest[1]
    save_session(loaded, tmp_path / "v5.json")
    saved = json.loads((tmp_path / "v5.json").read_text())
    assert saved["format_version"] == FORMAT_VERSION
    assert all(s["automation"] == [] for s in (*saved["tracks"], *saved["busses"], saved["master"]))


@pytest.mark.parametrize("change, where, message", [
    (lambda a: a[0].update(shape="step"), "tracks[0].automation[0].shape", "unknown key 'shape'"),
    (lambda a: a[0].pop("points"), "tracks[0].automation[0].points", "missing key 'points'"),
    (lambda a: a[0].update(slot=7), "tracks[0].automation[0].slot", "expected the place of a slot"),
    (lambda a: a[0].update(parameter="thresh"), "tracks[0].automation[0]", "has no parameter 'thresh'"),
    (lambda a: a[0]["points"].append([2.0, 30.0]), "tracks[0].automation[0]", "out of range [-80, 0] dB"),
    (lambda a: a[0]["points"].append([0.1, -3.0]), "tracks[0].automation[0]", "times must rise"),
    (lambda a: a[0]["points"].append([2.0, "-3"]), "tracks[0].automation[0].points[2][1]", "expected a number"),
    (lambda a: a[0]["points"].append([2.0, -3.0, "cubic"]), "tracks[0].automation[0].points[2][2]",
     "unknown shape"),
    (lambda a: a.append({"control": "volume", "points": [[0, 0]]}), "tracks[0].automation[1].control",
     "unknown control 'volume'"),
    (lambda a: a.append({"send": "hall", "points": [[0, 0]]}), "tracks[0].automation[1].send", "no send to 'hall'"),
    (lambda a: a.append({"control": "pan", "send": "verb", "points": [[0, 0]]}), "tracks[0].automation[1]",
     "one target"),
    (lambda a: a.append({"control": "pan", "points": [[0, 2]]}), "tracks[0].automation[1]", "out of range [-1, 1]"),
    (lambda a: a.append(dict(a[0])), "tracks[0].automation[1]", "a second envelope"),
])
def test_a_bad_envelope_in_a_session_is_refused_naming_its_place(tmp_path, wav_file, change, where, message):
    session = _session(tmp_path, wav_file)
    comp = session.tracks[0].chain.slots[1]
    session.tracks[0].automation.append(Envelope(SlotTarget(comp, "threshold_db"), (Point(0.0, -10.0),
                                                                                     Point(1.0, -20.0))))
    save_session(session, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    change(doc["tracks"][0]["automation"])
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(SessionFileError) as caught:
        load_session(tmp_path / "bad.json")
    assert f"at {where}:" in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize("target, value, message", [
    ("gain", 60.0, "Gain.gain_db, point 2 (1 s, 60): value out of range [-120, 48] dB"),
    ("comp_sidechain", 0.5, "takes whole steps"),
    ("fader", 13.0, "gain_db, point 2 (1 s, 13): value out of range [-150, 12] dB"),
    ("mix", 1.5, "Gain._mix, point 2 (1 s, 1.5): value out of range [0, 1]"),
])
def test_values_are_checked_against_the_targets_range_with_a_clear_message(tmp_path, wav_file, target, value,
                                                                           message):
    session = _session(tmp_path, wav_file)
    track = session.tracks[0]
    gain, comp = track.chain.slots
    chosen = {"gain": SlotTarget(gain, "gain_db"), "comp_sidechain": SlotTarget(comp, "sidechain"),
              "fader": StripTarget("gain_db"), "mix": SlotTarget(gain, "_mix")}[target]
    with pytest.raises(AutomationError) as caught:
        check_envelope(track, Envelope(chosen, (Point(0.0, 0.0), Point(1.0, value))))
    assert message in str(caught.value)


def test_an_output_parameter_and_a_missing_slot_cannot_be_automated(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    track = session.tracks[0]
    comp = track.chain.slots[1]
    with pytest.raises(AutomationError, match="read-only output"):
        check_envelope(track, Envelope(SlotTarget(comp, "gain_reduction_db"), (Point(0.0, 0.0),)))
    other = Session().add_track("x")
    with pytest.raises(AutomationError, match="is not in the chain of track 'x'"):
        check_envelope(other, Envelope(SlotTarget(comp, "ratio"), (Point(0.0, 2.0),)))
    with pytest.raises(AutomationError, match="master has no pan"):
        check_envelope(session.master, Envelope(StripTarget("pan"), (Point(0.0, 0.0),)))


def test_an_envelope_whose_slot_was_removed_is_not_played_nor_saved(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    track = session.tracks[0]
    gain = track.chain.slots[0]
    track.automation.append(check_envelope(track, Envelope(SlotTarget(gain, "gain_db"), (Point(0.0, -40.0),))))
    track.chain.remove(gain)
    save_session(session, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["tracks"][0]["automation"] == []
    assert render(session, tail=False).audio.shape[1] > 0


def test_slots_are_named_by_name_or_by_place_where_a_name_repeats(tmp_path, wav_file):
    session = _session(tmp_path, wav_file)
    chain = session.tracks[0].chain
    chain.add("Gain")
    assert slot_target(chain, "ZamCompX2", "ratio").slot is chain.slots[1]
    assert slot_target(chain, "3", "gain_db").slot is chain.slots[2]
    assert slot_target(chain, "1", "_mix").parameter == "_mix"
    with pytest.raises(AutomationError, match=r"'Gain' is in the chain 2 times \(slots 1, 3\)"):
        slot_target(chain, "Gain", "gain_db")
    with pytest.raises(AutomationError, match="no slot named 'Reverb' in the chain; it holds 1: Gain, 2: ZamCompX2"):
        slot_target(chain, "Reverb", "room_size")
    with pytest.raises(AutomationError, match="no slot 4 in a chain of 3"):
        slot_target(chain, "4", "gain_db")
    with pytest.raises(UnknownParameterError, match="valid parameters: attack_ms"):
        slot_target(chain, "ZamCompX2", "thresh")


def test_points_are_read_from_the_command_lines_time_value_pairs():
    assert parse_points("0:0, 2:-20") == (Point(0.0, 0.0), Point(2.0, -20.0))
    assert parse_points("0:1:step,1.5:0") == (Point(0.0, 1.0, "step"), Point(1.5, 0.0))
    for bad, message in [("0-0", "write TIME:VALUE"), ("a:1", "must be numbers"), ("0:1:wobbly", "unknown shape"),
                         (",", "has no points")]:
        with pytest.raises(AutomationError, match=message):
            parse_points(bad)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.floats(0, 1e4, allow_subnormal=False), finite,
                               st.sampled_from(["linear", "step", "smooth"])), min_size=1, max_size=30))
def test_a_csv_of_points_reads_back_exactly_what_was_written(tmp_path, rows):
    points = tuple(Point(*row) for row in rows)
    write_csv(points, tmp_path / "env.csv")
    assert read_csv(tmp_path / "env.csv") == points
    assert csv_text(points).splitlines()[0] == "time,value,shape"


def test_a_csv_from_a_script_may_have_two_columns_comments_and_no_header(tmp_path):
    (tmp_path / "ride.csv").write_text("# a fader ride\n0,0\n\n1.5,-6\n3,-6\n")
    assert read_csv(tmp_path / "ride.csv") == (Point(0.0, 0.0), Point(1.5, -6.0), Point(3.0, -6.0))
    (tmp_path / "bad.csv").write_text("time,value\n0,0\n1,loud\n")
    with pytest.raises(AutomationError, match=r"bad.csv' line 3: time and value must be numbers"):
        read_csv(tmp_path / "bad.csv")
    with pytest.raises(AutomationError, match="cannot read envelope file"):
        read_csv(tmp_path / "missing.csv")
