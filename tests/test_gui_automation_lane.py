"""The automation lane in a real Dear PyGui window (in process; a screenshot under Xvfb): opened from a fader,
points added, moved, reshaped and removed each as one undo step, the render following what was drawn, and the
fader showing it is automated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
from conftest import SR
from gui_driver import until, window_output

from rackhost.chain import Session
from rackhost.chain.automation import SendTarget, SlotTarget, StripTarget, find
from rackhost.chain.render import render
from rackhost.gui.automation_lane import AUTOMATED, value_at
from rackhost.presets import save_session

SECONDS = 4.0


def _sine() -> np.ndarray:
    t = np.arange(int(SECONDS * SR)) / SR
    return np.tile(0.5 * np.sin(2 * np.pi * 441.0 * t), (2, 1)).astype(np.float32)


@pytest.fixture
def session_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    track = session.add_track("tone", wav_file(_sine(), "tone.wav"), gain_db=-6.0)
    track.chain.add("Gain", gain_db=0.0)
    session.add_bus("verb")
    track.add_send("verb", -12.0)
    path = tmp_path / "lane.json"
    save_session(session, path)
    return path


def _rms(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[:, int(start * SR):int(end * SR)]
    return float(np.sqrt(np.mean(part ** 2)))


def test_automate_on_a_fader_makes_an_envelope_at_the_faders_value_and_undo_takes_it_away(app):
    track = app.session.tracks[0]
    lane = app.open_lane(0, StripTarget("gain_db"))
    envelope = find(track, StripTarget("gain_db"))
    assert envelope is not None and [(p.time, p.value) for p in envelope.points] == [(0.0, -6.0)]
    assert app.open_lane(0, StripTarget("gain_db")) is lane  # one lane per target
    assert dpg.get_item_configuration(app.strips[0].gain_text)["color"][:3] == pytest.approx(
        [c / 255 for c in AUTOMATED], abs=0.01)
    app.undo()
    assert find(track, StripTarget("gain_db")) is None
    assert not lane.alive  # the lane went with its envelope
    assert dpg.get_item_configuration(app.strips[0].gain_text)["color"][:3] != pytest.approx(
        [c / 255 for c in AUTOMATED], abs=0.01)


def test_points_added_moved_reshaped_and_removed_are_each_one_undo_step(app):
    track = app.session.tracks[0]
    lane = app.open_lane(0, StripTarget("gain_db"))
    envelope = find(track, StripTarget("gain_db"))
    lane.add(2.04, -30.0)  # snapped to 0.1 s
    assert [(p.time, p.value) for p in envelope.points] == [(0.0, -6.0), (2.0, -30.0)]
    lane.move(1, 3.0, -40.0)
    assert [(p.time, p.value) for p in envelope.points] == [(0.0, -6.0), (3.0, -40.0)]
    lane.selected = 0
    lane.set_shape("step")
    assert envelope.points[0].shape == "step"
    lane.remove(1)
    assert len(envelope.points) == 1
    for expected in ([(0.0, -6.0, "step"), (3.0, -40.0, "linear")], [(0.0, -6.0, "linear"), (3.0, -40.0, "linear")],
                     [(0.0, -6.0, "linear"), (2.0, -30.0, "linear")], [(0.0, -6.0, "linear")]):
        app.undo()
        assert [(p.time, p.value, p.shape) for p in envelope.points] == expected
    assert lane.alive


def test_a_click_adds_a_point_where_the_pointer_is_and_a_right_click_removes_it(app, monkeypatch):
    track = app.session.tracks[0]
    lane = app.open_lane(0, StripTarget("gain_db"))
    envelope = find(track, StripTarget("gain_db"))
    x, y = lane.x_of(2.0), lane.y_of(-20.0)
    monkeypatch.setattr(lane, "_mouse", lambda: (x, y))  # the pointer's place; the handlers are real
    lane._pressed()
    assert [(p.time, round(p.value)) for p in envelope.points] == [(0.0, -6.0), (2.0, -20)]
    lane._pressed()  # on the point: grabs it, adds nothing
    assert len(envelope.points) == 2 and lane._drag == 1
    lane._drag = None
    lane._right_clicked()
    assert len(envelope.points) == 1


def test_a_fader_lane_drawn_down_makes_the_second_half_of_the_render_quieter(app):
    lane = app.open_lane(0, StripTarget("gain_db"))
    lane.add(2.0, -6.0)
    lane.add(2.1, -40.0)
    audio = render(app.session, tail=False).audio
    assert _rms(audio, 2.5, 3.9) < _rms(audio, 0.1, 1.9) / 30  # 34 dB down
    app.undo()
    app.undo()
    audio = render(app.session, tail=False).audio
    assert _rms(audio, 2.5, 3.9) == pytest.approx(_rms(audio, 0.1, 1.9), rel=0.05)


def test_the_fader_moves_with_the_envelope_at_the_playhead(app):
    lane = app.open_lane(0, StripTarget("gain_db"))
    lane.add(2.0, -30.0)
    envelope = find(app.session.tracks[0], StripTarget("gain_db"))
    lane.poll(1.0, playing=True)
    expected = value_at(envelope, 1.0, SR)
    assert expected == pytest.approx(-18.0)
    assert app.strips[0].fader.db == pytest.approx(expected)
    assert dpg.get_value(app.strips[0].gain_text) == app.strips[0].fader.text
    assert app.session.tracks[0].gain_db == -6.0  # shown, not written


def test_lanes_open_for_a_pan_a_send_and_a_parameter(app):
    track = app.session.tracks[0]
    app.open_lane(0, StripTarget("pan")).add(1.0, 0.5)
    app.open_lane(0, SendTarget(track.sends[0])).add(1.0, -20.0)
    app.open_lane(0, SlotTarget(track.chain[0], "gain_db")).add(1.0, -10.0)
    assert [(e.describe(), len(e.points)) for e in track.automation] == [
        ("pan", 2), ("send to 'verb'", 2), ("Gain.gain_db", 2)]
    assert lane_value(track, SlotTarget(track.chain[0], "gain_db")) == (0.0, -10.0)


def lane_value(track, target) -> tuple[float, float]:
    envelope = find(track, target)
    return envelope.points[0].value, envelope.points[1].value


def test_a_screenshot_of_the_lane_at_1920x1080(session_file, tmp_path):
    out = tmp_path / "lane.png"
    subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable,
                    str(Path(__file__).parent / "lane_screenshot.py"), str(session_file), str(out)],
                   check=True, timeout=240)
    assert out.stat().st_size > 10_000


def test_real_clicks_automate_a_fader_and_add_drag_remove_and_delete_points_under_xvfb(session_file):
    out = window_output("gui_lane_clicks.py", session_file)
    assert out["menu"] == "Automate"
    assert out["opened"] == [[0.0, -6.0, "linear"]]
    assert out["added"][1][:1] == [2.0] and out["added"][1][1] == pytest.approx(-30.0, abs=1.0)
    assert out["dragged"][1][0] == 3.0 and out["dragged"][1][1] == pytest.approx(-40.0, abs=1.0)
    assert out["steps_after_drag"] == 3  # automate, add, one move for the whole drag
    assert out["right_clicked"] == [[0.0, -6.0, "linear"]]
    assert len(out["before_delete"]) == 2
    assert out["deleted"] == [[0.0, -6.0, "linear"]]
    assert out["undone"] == out["before_delete"]
    assert out["automated_color"][:3] == pytest.approx([c / 255 for c in AUTOMATED], abs=0.01)


def test_a_send_and_a_parameter_in_an_open_panel_move_with_their_envelopes_while_playing(app):
    track = app.session.tracks[0]
    app.open_lane(0, SendTarget(track.sends[0])).add(2.0, -32.0)
    panel = app.open_panel(0, 0)
    app.open_lane(0, SlotTarget(track.chain[0], "gain_db")).add(2.0, -20.0)
    for lane in app.lanes:
        lane.poll(1.0, playing=True)
    assert dpg.get_value(app.strips[0].routing.sends["verb"].level) == pytest.approx(-22.0, abs=0.01)
    assert dpg.get_value(panel.controls["gain_db"]) == pytest.approx(-10.0, abs=0.01)
    assert track.sends[0].level_db == -12.0 and track.chain[0].plugin.get("gain_db") == 0.0  # shown, not written


def test_an_automated_send_and_parameter_show_it_in_amber(app):
    track = app.session.tracks[0]
    panel = app.open_panel(0, 0)
    assert not dpg.get_item_theme(panel.controls["gain_db"])
    app.open_lane(0, SendTarget(track.sends[0]))
    app.open_lane(0, SlotTarget(track.chain[0], "gain_db"))
    assert dpg.get_item_theme(app.strips[0].routing.sends["verb"].level)
    assert dpg.get_item_theme(panel.controls["gain_db"])
    assert not dpg.get_item_theme(panel.mix)
    app.undo()
    assert not dpg.get_item_theme(panel.controls["gain_db"])


def test_the_engine_plays_what_the_lane_draws_and_the_fader_follows_it_under_jack(jack_server, app):
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    app.timeline.loop_to(0.0, SECONDS, True)  # the session's loop: every resync keeps it
    app.play()
    master = lambda: float(app.engine.meters()[-1, 0, 0])
    until(app, lambda: master() > 0.1, "the tone to play at -6 dB")
    lane = app.open_lane(0, StripTarget("gain_db"))
    lane.add(0.0, -80.0)  # replaces the first point: the whole envelope at -80 dB
    until(app, lambda: master() < 0.01, "the engine to play the envelope drawn down")
    until(app, lambda: app.strips[0].fader.db == pytest.approx(-80.0), "the fader to follow the envelope")
    assert app.session.tracks[0].gain_db == -6.0
    app.undo()
    until(app, lambda: master() > 0.1, "undo to bring the tone back")


def test_a_fader_lane_tops_out_where_the_fader_does(app):
    from rackhost.gui.taper import FADER_MAX_DB

    lane = app.open_lane(0, StripTarget("gain_db"))
    envelope = find(app.session.tracks[0], StripTarget("gain_db"))
    assert FADER_MAX_DB == 6.0 and lane._range()[1] == FADER_MAX_DB
    assert lane.y_of(FADER_MAX_DB) == 0.0 and lane.y_of(0.0) > 0.0  # +6 dB is the lane's top line
    lane.add(1.0, 12.0)  # a click at the very top, or a drag past it: held at the fader's top
    lane.move(1, 1.5, 30.0)
    assert envelope.points[1].value == FADER_MAX_DB
    # A send's lane keeps the send's own range: its slider goes to +12 dB.
    assert app.open_lane(0, SendTarget(app.session.tracks[0].sends[0]))._range()[1] == 12.0


def test_a_fader_point_above_the_fader_from_a_file_stays_in_the_lane(app):
    from rackhost.chain.automation import Envelope, Point

    track = app.session.tracks[0]
    app.edit.add_envelope(track, Envelope(StripTarget("gain_db"), (Point(0.0, 0.0), Point(1.0, 10.0))))
    app.session.history.seal()
    lane = app.open_lane(0, StripTarget("gain_db"))
    assert lane._range()[1] == 10.0 and lane.y_of(10.0) == 0.0  # drawn, not off the top
