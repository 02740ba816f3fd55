"""The mapping model: CC to parameter/gain/pan/mute with range and curve, 14-bit pairs, learn, program map, files."""

from __future__ import annotations

import json
import math

import pytest

from rackhost.chain import Session
from rackhost.chain.midi import CCMapping, MappingTarget, MidiMap
from rackhost.chain.midi.mapping import resolve, shape
from rackhost.errors import MidiMappingError
from rackhost.presets import SessionFileError, load_session, save_session


def _session() -> Session:
    session = Session()
    track = session.add_track("vox", None)
    track.chain.add("Compressor", threshold_db=-10)
    track.chain.add("LadderFilter")
    track.chain.add("Reverb")
    session.master.chain.add("Gain")
    return session


COMP = MappingTarget(0, "parameter", 0, "threshold_db")


@pytest.mark.parametrize("curve, fraction, expected", [
    ("linear", 0.0, 20.0), ("linear", 0.5, 1010.0), ("linear", 1.0, 2000.0),
    ("exp", 0.5, math.sqrt(20 * 2000)),  # equal ratios between positive bounds
    ("log", 0.5, 20 + 1980 * math.log10(5.5)),
    ("linear", -1.0, 20.0), ("linear", 2.0, 2000.0),  # clamped
])
def test_curves(curve, fraction, expected):
    assert shape(fraction, curve, 20.0, 2000.0) == pytest.approx(expected)


def test_exp_across_zero_still_goes_from_low_to_high():
    assert shape(0.0, "exp", -60, 6) == -60 and shape(1.0, "exp", -60, 6) == pytest.approx(6)
    assert shape(0.5, "exp", -60, 6) < shape(0.5, "linear", -60, 6)  # slow at first


def test_a_cc_sets_a_parameter_through_its_own_range():
    session = _session()
    midi = MidiMap()
    midi.add(CCMapping(1, 7, COMP))
    [(mapping, value)] = midi.apply_cc(session, 1, 7, 127)
    assert value == 0.0 and session.tracks[0].chain[0].plugin.get("threshold_db") == 0.0  # the top of its range
    midi.apply_cc(session, 1, 7, 0)
    assert session.tracks[0].chain[0].plugin.get("threshold_db") == session.tracks[0].chain[0].plugin.info("threshold_db").minimum
    assert midi.apply_cc(session, 2, 7, 64) == []  # another channel: not mapped


def test_a_range_and_curve_of_the_mappings_own():
    session = _session()
    midi = MidiMap([CCMapping(1, 74, MappingTarget(0, "parameter", 1, "cutoff_hz"), 100.0, 10000.0, "exp")])
    midi.apply_cc(session, 1, 74, 127)
    assert session.tracks[0].chain[1].plugin.get("cutoff_hz") == pytest.approx(10000.0)
    value = midi.apply_cc(session, 1, 74, 64)[0][1]
    assert value == pytest.approx(100 * 100 ** (64 / 127), rel=1e-4)


def test_fourteen_bit_pairs_combine_msb_and_lsb():
    session = _session()
    midi = MidiMap([CCMapping(1, 1, MappingTarget(0, "pan"), lsb_controller=33)])
    pairs: dict = {}
    midi.apply_cc(session, 1, 1, 64, pairs)          # MSB
    midi.apply_cc(session, 1, 33, 0, pairs)          # LSB
    assert session.tracks[0].pan == pytest.approx(-1 + 2 * (64 * 128) / 16383)
    midi.apply_cc(session, 1, 33, 127, pairs)
    assert session.tracks[0].pan == pytest.approx(-1 + 2 * (64 * 128 + 127) / 16383)


def test_gain_mute_and_choices():
    session = _session()
    midi = MidiMap([CCMapping(1, 10, MappingTarget(0, "gain"), -20.0, 0.0), CCMapping(1, 11, MappingTarget(0, "mute")),
                    CCMapping(1, 12, MappingTarget(None, "gain")), CCMapping(1, 13, MappingTarget(0, "parameter", 1, "mode"))])
    midi.apply_cc(session, 1, 10, 127)
    midi.apply_cc(session, 1, 11, 100)
    midi.apply_cc(session, 1, 12, 0)
    assert session.tracks[0].gain_db == 0.0 and session.tracks[0].mute and session.master.gain_db == -60.0
    choices = session.tracks[0].chain[1].plugin.info("mode").choices
    assert midi.apply_cc(session, 1, 13, 0)[0][1] == choices[0]
    assert midi.apply_cc(session, 1, 13, 127)[0][1] == choices[-1]


@pytest.mark.parametrize("make, message", [
    (lambda: CCMapping(0, 7, COMP), "MIDI channel must be a whole number 1..16"),
    (lambda: CCMapping(1, 128, COMP), "controller number"),
    (lambda: CCMapping(1, 7, COMP, curve="cubic"), "curve 'cubic'"),
    (lambda: CCMapping(1, 7, COMP, lsb_controller=7), "two different controllers"),
    (lambda: MappingTarget(0, "parameter"), "names a slot"),
    (lambda: MappingTarget(None, "pan"), "the master has no pan"),
    (lambda: MappingTarget(0, "volume"), "'volume' is not one of"),
])
def test_bad_mappings_are_refused_clearly(make, message):
    with pytest.raises(MidiMappingError, match=message):
        make()


def test_mappings_to_things_that_are_not_there_say_so():
    session = _session()
    with pytest.raises(MidiMappingError, match="has no parameter 'nope'"):
        resolve(CCMapping(1, 7, MappingTarget(0, "parameter", 0, "nope")), session)
    with pytest.raises(MidiMappingError, match="slot 9"):
        resolve(CCMapping(1, 7, MappingTarget(0, "parameter", 9, "x")), session)
    with pytest.raises(MidiMappingError, match="track 6"):
        resolve(CCMapping(1, 7, MappingTarget(5, "gain")), session)


def test_learn_binds_the_next_controller_to_the_armed_target():
    midi = MidiMap()
    assert midi.learn(1, 20) is None  # nothing armed: nothing bound
    midi.arm_learn(COMP, minimum=-30.0, maximum=0.0, curve="log")
    mapping = midi.learn(3, 21)
    assert mapping == CCMapping(3, 21, COMP, -30.0, 0.0, "log") and midi.learning is None
    assert midi.mappings == [mapping]
    midi.arm_learn(MappingTarget(0, "gain"), fourteen_bit=True)
    assert midi.learn(1, 39).controller == 7 and midi.mappings[-1].lsb_controller == 39  # LSB came first
    midi.arm_learn(COMP)
    midi.learn(4, 5)  # learning the same target again adds a second controller
    assert len(midi.for_target(COMP)) == 2
    midi.arm_learn(COMP)
    midi.cancel_learn()
    assert midi.learn(1, 1) is None


def test_program_map():
    midi = MidiMap()
    midi.set_program(1, 4, None, "mastering/streaming")
    midi.set_program(1, 4, 0, "tracking/vocal")
    midi.set_program(1, 4, None, "mastering/cd")  # replaces the master's entry
    assert [(p.track, p.preset) for p in midi.programs_for(1, 4)] == [(0, "tracking/vocal"), (None, "mastering/cd")]
    assert midi.programs_for(2, 4) == []
    assert len(midi.remove_program(1, 4, track=0)) == 1 and len(midi.programs) == 1


def test_mappings_and_programs_survive_session_save_and_load(tmp_path):
    session = _session()
    session.midi.add(CCMapping(1, 7, COMP, -40.0, 0.0, "log"))
    session.midi.add(CCMapping(2, 1, MappingTarget(None, "gain"), lsb_controller=33))
    session.midi.set_program(1, 3, None, "mastering/streaming")
    save_session(session, tmp_path / "s.json")
    loaded = load_session(tmp_path / "s.json")
    assert loaded.midi.mappings == session.midi.mappings and loaded.midi.programs == session.midi.programs


@pytest.mark.parametrize("midi, where", [
    ({"mappings": [{"channel": 17, "controller": 1, "target": {"track": None, "kind": "gain"}}]}, "midi.mappings[0]"),
    ({"mappings": {}}, "midi.mappings"),
    ({"programs": [{"channel": 1, "program": 200, "track": None, "preset": "a/b"}]}, "midi.programs[0]"),
    ([], "midi"),
])
def test_bad_midi_sections_name_the_place(tmp_path, midi, where):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format_version": 3, "tracks": [], "midi": midi}))
    with pytest.raises(SessionFileError) as info:
        load_session(path)
    assert f"at {where}:" in str(info.value)


@pytest.mark.parametrize("curve, low, high", [("linear", -60, 0), ("exp", 20, 20000), ("exp", -60, 6), ("log", 0, 1)])
def test_positions_invert_the_curves(curve, low, high):
    from rackhost.chain.midi.mapping import unshape

    for fraction in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert unshape(shape(fraction, curve, low, high), curve, low, high) == pytest.approx(fraction, abs=1e-9)


def test_feedback_messages_say_where_each_target_stands():
    from rackhost.chain.midi.mapping import cc_messages, position

    session = _session()
    session.tracks[0].chain[0].plugin.set("threshold_db", -20.0)
    session.tracks[0].mute = True
    level = CCMapping(1, 7, COMP, -40.0, 0.0)
    assert position(level, session) == pytest.approx(0.5)
    assert cc_messages(level, 0.5) == [bytes((0xB0, 7, 64))]
    assert position(CCMapping(1, 8, MappingTarget(0, "mute")), session) == 1.0
    fine = CCMapping(2, 1, MappingTarget(0, "pan"), lsb_controller=33)
    assert cc_messages(fine, 1.0) == [bytes((0xB1, 1, 127)), bytes((0xB1, 33, 127))]


def test_a_track_preset_can_carry_its_mappings(tmp_path):
    from rackhost.presets.apply import apply_preset, preset_from
    from rackhost.presets.preset_file import read_preset, write_preset
    from rackhost.presets.preset_midi import capture_mappings

    session = _session()
    session.midi.add(CCMapping(1, 7, COMP, -40.0, 0.0))
    session.midi.add(CCMapping(1, 10, MappingTarget(0, "pan")))
    session.midi.add(CCMapping(1, 11, MappingTarget(None, "gain")))  # the master's: not the track's
    preset = preset_from("vox rig", "mixing", session.tracks[0], midi_mappings=capture_mappings(session, session.tracks[0]))
    write_preset(preset, tmp_path / "p.json")
    loaded = read_preset(tmp_path / "p.json")
    assert len(loaded.midi_mappings) == 2 and loaded.midi_mappings[0]["target"]["track"] is None

    other = Session()
    other.add_track("drums", None)
    keys = other.add_track("keys", None)
    keys.chain.add("Gain")
    apply_preset(loaded, other, keys, replace=False)  # appended after the Gain: slots shift by one
    assert other.midi.mappings == [CCMapping(1, 7, MappingTarget(1, "parameter", 1, "threshold_db"), -40.0, 0.0),
                                   CCMapping(1, 10, MappingTarget(1, "pan"))]


def test_a_bad_mapping_in_a_preset_names_the_place(tmp_path):
    from rackhost.presets.preset import PresetError
    from rackhost.presets.preset_file import read_preset

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format_version": 1, "name": "x", "stage": "mixing", "kind": "track", "slots": [],
                                "midi_mappings": [{"channel": 99, "controller": 1, "target": {"kind": "gain"}}]}))
    with pytest.raises(PresetError, match=r"at midi_mappings\[0\]: a MIDI channel must be"):
        read_preset(path)


def test_presets_save_with_midi_keeps_the_tracks_mappings(tmp_path, capsys):
    from rackhost.cli import main
    from rackhost.presets.store import PresetStore

    session = _session()
    session.midi.add(CCMapping(2, 20, COMP))
    save_session(session, tmp_path / "s.json")
    assert main(["presets", "save", "vox midi", "--stage", "mixing", "--session", str(tmp_path / "s.json"),
                 "--track", "vox", "--with-midi", "--overwrite"]) == 0
    assert PresetStore().load("mixing/vox midi").midi_mappings[0]["controller"] == 20
    assert main(["presets", "save", "x", "--stage", "mixing", "--chain", "Gain", "--with-midi"]) == 2
    assert "--with-midi keeps a session's mappings" in capsys.readouterr().err


def test_mappings_follow_slots_and_tracks_through_edits():
    session = _session()
    midi = session.midi
    reverb = MappingTarget(0, "parameter", 2, "room_size")
    midi.add(CCMapping(1, 1, COMP))
    midi.add(CCMapping(1, 2, reverb))
    midi.add(CCMapping(1, 3, MappingTarget(0, "parameter", 1, "cutoff_hz")))
    midi.add(CCMapping(1, 4, MappingTarget(None, "parameter", 0, "gain_db")))
    anchors = midi.anchor(session)
    session.add_track("first", None)
    session.tracks.insert(0, session.tracks.pop())  # a track before it: the vox track is now 1
    chain = session.tracks[1].chain
    chain.move(2, 0)  # the reverb to the front
    chain.remove(2)   # the LadderFilter (now at 2) is removed
    dropped = midi.follow(anchors, session)
    assert [(m.controller, m.target.track, m.target.slot) for m in midi.mappings] == [(1, 1, 1), (2, 1, 0), (4, None, 0)]
    assert len(dropped) == 1 and "LadderFilter slot was removed" in dropped[0]


def test_a_replaced_chain_keeps_mappings_where_the_same_plugin_stands():
    from rackhost.chain import Chain

    session = _session()
    session.midi.add(CCMapping(1, 1, COMP))
    session.midi.add(CCMapping(1, 2, MappingTarget(0, "parameter", 1, "cutoff_hz")))
    anchors = session.midi.anchor(session)
    fresh = Chain()
    fresh.add("Compressor")
    fresh.add("Reverb")
    session.tracks[0].chain = fresh  # a preset recalled
    dropped = session.midi.follow(anchors, session)
    assert [m.controller for m in session.midi.mappings] == [1] and len(dropped) == 1


def test_midi_map_list_unmap_and_program_from_the_command_line(tmp_path, capsys):
    from rackhost.cli import main

    save_session(_session(), tmp_path / "s.json")
    s = str(tmp_path / "s.json")
    assert main(["midi", "map", s, "vox:Compressor.threshold_db", "--cc", "7", "--range", "-40", "0",
                 "--curve", "log"]) == 0
    assert main(["midi", "map", s, "master:gain", "--cc", "2:1/33"]) == 0
    assert main(["midi", "program", s, "--program", "4", "--preset", "mastering/streaming"]) == 0
    loaded = load_session(s)
    assert loaded.midi.mappings == [CCMapping(1, 7, COMP, -40.0, 0.0, "log"),
                                    CCMapping(2, 1, MappingTarget(None, "gain"), lsb_controller=33)]
    assert [(p.program, p.track, p.preset) for p in loaded.midi.programs] == [(4, None, "mastering/streaming")]
    capsys.readouterr()
    assert main(["midi", "list", s]) == 0
    listing = capsys.readouterr().out
    assert "channel 1 CC 7 -> track 'vox' Compressor.threshold_db (log, -40..0)" in listing
    assert "channel 1 program 4 -> mastering/streaming on master" in listing
    assert main(["midi", "unmap", s, "master:gain"]) == 0
    assert main(["midi", "program", s, "--program", "4", "--remove"]) == 0
    loaded = load_session(s)
    assert len(loaded.midi.mappings) == 1 and not loaded.midi.programs


@pytest.mark.parametrize("args, message", [
    (["map", "{s}", "vox:9.ratio", "--cc", "7"], "no slot 9"),
    (["map", "{s}", "vox:0/x/0.ratio", "--cc", "7"], "target 'vox:0/x/0.ratio': slot path '0/x/0': write numbers from 0"),
    (["map", "{s}", "vox:0/1.ratio", "--cc", "7"], "slot path '0/1': write (split slot/branch/)... slot, an odd count"),
    (["map", "{s}", "nobody:gain", "--cc", "7"], "no track or bus 'nobody'"),
    (["map", "{s}", "vox", "--cc", "7"], "write OWNER:WHAT"),
    (["map", "{s}", "vox:Compressor.nope", "--cc", "7"], "has no parameter 'nope'"),
    (["map", "{s}", "vox:pan", "--cc", "x"], "write [CHANNEL:]CC[/LSB]"),
    (["map", "{s}", "vox:pan", "--cc", "17:1"], "MIDI channel must be a whole number 1..16"),
    (["unmap", "{s}", "vox:pan"], "nothing is mapped to 'vox:pan'"),
    (["program", "{s}", "--program", "4", "--preset", "nope/x"], "no such preset"),
])
def test_midi_mapping_commands_refuse_mistakes_in_one_line(tmp_path, capsys, args, message):
    from rackhost.cli import main

    save_session(_session(), tmp_path / "s.json")
    assert main(["midi", *[a.format(s=tmp_path / "s.json") for a in args]]) == 2
    assert message in capsys.readouterr().err
