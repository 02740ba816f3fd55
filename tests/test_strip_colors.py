"""Strip colours: the default palette by place, one undo step, and the round trip through the session file."""

from __future__ import annotations

import json

import pytest

from rackhost.chain import Bus, Session, Track
from rackhost.chain.colors import PALETTE, default_color, rgb
from rackhost.presets import SessionFileError, load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION


def _session() -> Session:
    session = Session()
    for name in ("kick", "snare", "bass", "vox"):
        session.add_track(name)
    session.add_bus("drums")
    session.add_bus("reverb")
    return session


def test_a_new_session_gives_each_strip_the_palettes_colour_at_its_place():
    session = _session()
    assert [t.color for t in session.tracks] == [c for _, c in PALETTE[:4]]
    assert [b.color for b in session.busses] == [PALETTE[-1][1], PALETTE[-2][1]]
    assert len({s.color for s in (*session.tracks, *session.busses)}) == 6  # not all grey, no two alike
    # A track added through the undoable editor (the window's way) is placed too; past the palette it wraps.
    for k in range(len(PALETTE)):
        session.edit.add_track(session, Track(f"t{k}"))
    assert session.tracks[len(PALETTE)].color == default_color(0)
    session.edit.add_bus(session, Bus("fx"))
    assert session.busses[-1].color == default_color(2, bus=True)


def test_the_palette_reads_on_the_dark_theme():
    for name, color in PALETTE:
        r, g, b = rgb(color)
        assert 0.2126 * r + 0.7152 * g + 0.0722 * b > 110, name  # light enough beside the panel's (34, 37, 43)
    assert 8 <= len(PALETTE) <= 12 and len({c for _, c in PALETTE}) == len(PALETTE)


def test_setting_a_colour_is_one_undo_step():
    session = _session()
    vox, before = session.tracks[3], session.tracks[3].color
    session.edit.set_color(vox, "#E66464")
    assert vox.color == "#e66464"
    assert session.undo() == "colour of vox"
    assert vox.color == before
    session.redo()
    assert vox.color == "#e66464"
    session.edit.set_color(vox, "#e66464")  # the same colour again: nothing to undo
    assert session.undo() == "colour of vox" and vox.color == before
    with pytest.raises(ValueError, match=r"colour of 'vox' must be '#rrggbb'.*'red'"):
        session.edit.set_color(vox, "red")


def test_colours_round_trip_through_the_session_file(tmp_path):
    session = _session()
    session.edit.set_color(session.tracks[1], "#c86ec8")
    session.edit.set_color(session.busses[0], "#e6a046")
    path = tmp_path / "s.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION and FORMAT_VERSION >= 10  # colours came with 10
    assert doc["tracks"][1]["color"] == "#c86ec8" and doc["busses"][0]["color"] == "#e6a046"
    loaded = load_session(path)
    assert [t.color for t in loaded.tracks] == [t.color for t in session.tracks]
    assert [b.color for b in loaded.busses] == [b.color for b in session.busses]


def test_a_version_9_session_takes_the_default_colours_by_place(tmp_path):
    doc = json.loads(json.dumps({"format_version": 9, "tracks": [{"name": "a"}, {"name": "b"}],
                                 "busses": [{"name": "fx"}]}))
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    loaded = load_session(path)
    assert [t.color for t in loaded.tracks] == [default_color(0), default_color(1)]
    assert loaded.busses[0].color == default_color(0, bus=True)


def test_a_bad_colour_in_a_file_names_its_place_and_the_fix(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, "tracks": [{"name": "a", "color": "blue"}]}))
    with pytest.raises(SessionFileError, match=r"tracks\[0\]\.color: expected a colour '#rrggbb'.*\"blue\""):
        load_session(path)
