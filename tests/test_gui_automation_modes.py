"""Automation modes in the window: the lane's mode selector (one undo step, saved), and a touch write from the
window's own fader under JACK: the control and the lane show it is being written, the engine's pass comes back
into the window's session as one undo step."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import pytest
from conftest import SR
from gui_driver import until
from test_gui_automation_lane import SECONDS, session_file  # noqa: F401 - the lane tests' session, for app

from rackhost.chain.automation import Point, StripTarget, find
from rackhost.gui.writing import WRITING
from rackhost.live.commands import Loop
from rackhost.presets import session_to_dict


def test_the_lanes_mode_selector_sets_the_mode_as_one_undo_step_and_the_session_keeps_it(app):
    lane = app.open_lane(0, StripTarget("gain_db"))
    envelope = find(app.session.tracks[0], StripTarget("gain_db"))
    assert dpg.get_value(lane.mode) == "read"
    dpg.get_item_callback(lane.mode)(lane.mode, "latch")  # what choosing it in the combo calls
    assert envelope.mode == "latch"
    assert session_to_dict(app.session)["tracks"][0]["automation"][0]["mode"] == "latch"
    app.undo()
    assert envelope.mode == "read" and dpg.get_value(lane.mode) == "read"
    app.redo()
    assert dpg.get_value(lane.mode) == "latch"


def test_the_lanes_glide_field_sets_the_sessions_glide_as_one_undo_step_and_refuses_a_bad_one(app):
    lane = app.open_lane(0, StripTarget("gain_db"))
    assert dpg.get_value(lane.glide) == 250  # the default, 0.25 s
    dpg.get_item_callback(lane.glide)(lane.glide, 100)  # what typing 100 and Enter calls
    assert app.session.automation_glide == 0.1
    assert session_to_dict(app.session)["automation_glide"] == 0.1
    app.undo()
    assert app.session.automation_glide == 0.25 and dpg.get_value(lane.glide) == 250
    dpg.get_item_callback(lane.glide)(lane.glide, 20_000)
    assert app.session.automation_glide == 0.25 and dpg.get_value(lane.glide) == 250
    assert "automation glide 20.0 s is outside 0..10 s" in app.messages[-1]


def test_a_fader_ridden_in_touch_mode_is_written_back_into_the_windows_session_under_jack(jack_server, app):
    track = app.session.tracks[0]
    lane = app.open_lane(0, StripTarget("gain_db"))
    lane.add(3.0, -20.0)
    lane.set_mode("touch")
    before = find(track, StripTarget("gain_db")).points
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    app.send(Loop(0, int(SECONDS * SR)))
    app.play()
    until(app, lambda: app.transport[1] and app.transport[0] > SR // 4, "the transport to play")
    for k in range(10):  # the fader's drag: what its callback calls, a frame apart
        app.set_gain(0, -30.0 - k)
        app.frame()
    assert lane.writing and dpg.get_value(lane.writing_light) == "writing (touch)"
    color = dpg.get_item_configuration(app.strips[0].gain_text)["color"][:3]
    assert color == pytest.approx([c / 255 for c in WRITING], abs=0.01)  # the fader's readout says it too
    master = lambda: float(app.engine.meters()[-1, 0, 0])
    until(app, lambda: find(track, StripTarget("gain_db")).points != before,
          "the pass to be let go (mouse up), written by the engine and committed in the window")
    points = find(track, StripTarget("gain_db")).points
    # Thinned: at most a step's two corners per move of the drag, where the blocks it lasted (60 or more) would
    # each leave one (how many corners survive depends on the frames' timing, so a loaded machine keeps more).
    assert any(p.value == -39.0 for p in points) and len(points) <= 2 + 2 * 10
    until(app, lambda: not lane.writing, "the lane to show the write ended")
    assert dpg.get_value(lane.writing_light) == ""
    assert master() > 0.0
    app.undo()
    assert find(track, StripTarget("gain_db")).points == before
    assert before == (Point(0.0, -6.0), Point(3.0, -20.0))


def test_a_midi_controller_writing_in_touch_mode_shows_in_the_window_as_a_drag_does_under_jack(jack_server, app):
    import mido

    from rackhost.chain.midi import CCMapping, MappingTarget

    track = app.session.tracks[0]
    lane = app.open_lane(0, StripTarget("gain_db"))
    lane.add(3.0, -20.0)
    lane.set_mode("touch")
    app.session.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), -40.0, 0.0))
    before = find(track, StripTarget("gain_db")).points
    controller = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("controller", virtual=True,
                                                                           client_name="autoctl")
    try:
        panel = app.open_midi()
        dpg.set_value(panel.input, "virtual:rackhost_in")
        panel.apply_ports()  # the engine restarts with the MIDI input (and the session's mapping)
        until(app, lambda: app.engine is not None, "the engine to start with MIDI")
        jack_server.connect("autoctl:controller", "rackhost:rackhost_in")
        app.send(Loop(0, int(SECONDS * SR)))
        app.play()
        until(app, lambda: app.transport[1] and app.transport[0] > SR // 4, "the transport to play")
        value = -40.0 + 40.0 * 32 / 127
        for cc in (90, 60, 32):  # a controller ridden down, nothing touched in the window
            controller.send(mido.Message("control_change", channel=0, control=7, value=cc))
            app.frame()
        until(app, lambda: lane.writing and lane.written is not None and lane.written.value == pytest.approx(value),
              "the window to show the controller's pass")
        assert not app.writes.touched  # the engine's pass, not one the window started
        assert dpg.get_value(lane.writing_light) == "writing (touch)"
        color = dpg.get_item_configuration(app.strips[0].gain_text)["color"][:3]
        assert color == pytest.approx([c / 255 for c in WRITING], abs=0.01)  # the fader's readout says it
        until(app, lambda: app.strips[0].fader.db == pytest.approx(value), "the fader to follow the controller")
        for _ in range(3):  # the strip refreshed by the controller's move: its readout stays red
            app.frame()
        color = dpg.get_item_configuration(app.strips[0].gain_text)["color"][:3]
        assert color == pytest.approx([c / 255 for c in WRITING], abs=0.01)
        assert lane.written.source == "midi"
        until(app, lambda: lane.pass_line != 0, "the lane to draw the pass")
        start, end = dpg.get_item_configuration(lane.pass_line)["p1"], dpg.get_item_configuration(lane.pass_line)["p2"]
        assert start[1] == end[1] == pytest.approx(lane.y_of(value)) and end[0] > start[0]  # held, up to the playhead
        until(app, lambda: find(track, StripTarget("gain_db")).points != before,
              "the controller to stand still (let go), the pass written by the engine and committed in the window")
        assert any(p.value == pytest.approx(value) for p in find(track, StripTarget("gain_db")).points)
        until(app, lambda: not lane.writing, "the lane to show the write ended")
        assert dpg.get_value(lane.writing_light) == "" and lane.pass_line == 0
        app.undo()
        assert find(track, StripTarget("gain_db")).points == before
    finally:
        controller.close()
