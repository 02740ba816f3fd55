"""The window on a session with busses and sends: it opens, shows the bus strips read-only, plays them
through the engine process, and saves them back."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import pytest
from conftest import SR, program_signal
from test_gui_rack import _until

from rackhost.chain import Session
from rackhost.gui.app import RackApp
from rackhost.presets import load_session, save_session, session_to_dict


@pytest.fixture
def routed_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("kick", wav_file(program_signal(2, 3.0), "kick.wav"), output="drums")
    vocal = session.add_track("vocal", wav_file(program_signal(1, 3.0, seed=3), "vocal.wav"), gain_db=-60.0)
    vocal.add_send("reverb", -6.0, pre_fader=True)  # heard only through the reverb bus
    session.add_bus("drums", output="music").chain.add("Compressor", threshold_db=-20.0)
    session.add_bus("music", gain_db=-1.0)
    session.add_bus("reverb").chain.add("Reverb", room_size=0.4)
    path = tmp_path / "routed.json"
    save_session(session, path)
    return path


@pytest.fixture
def app(routed_file):
    rack = RackApp(load_session(routed_file), routed_file, start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        yield rack
    finally:
        rack.close()
        dpg.destroy_context()


def test_the_window_shows_each_bus_where_it_goes_and_each_tracks_routing(app):
    assert [view.bus.name for view in app.bus_strips] == ["drums", "music", "reverb"]
    assert dpg.get_value(app.bus_strips[0].routing) == "-> music"
    assert dpg.get_value(app.bus_strips[2].slots[0]).strip() == "Reverb"
    assert dpg.get_value(app.strips[1].routing) == "-> master\n+ reverb -6.0 dB pre"
    assert dpg.get_value(app.strips[0].routing) == "-> drums"


def test_the_window_plays_a_routed_session_through_its_busses_and_saves_them(jack_server, app, routed_file):
    app.restart_engine()
    _until(app, lambda: app.engine is not None, "the engine to start")
    app.play()
    _until(app, lambda: float(app.engine.meters()[-1, 0, 0]) > 0.05, "the master to sound through the busses")
    app.set_mute(0, True)  # the kick: what is left is the vocal's pre-fader send through the reverb
    app.set_gain(1, -60.0)
    _until(app, lambda: 0 < float(app.engine.meters()[-1, 0, 0]) < 0.05, "the master to carry the reverb only")
    app.files.save()
    saved = load_session(routed_file)
    assert [b.name for b in saved.busses] == ["drums", "music", "reverb"]
    assert session_to_dict(saved, routed_file.parent) == session_to_dict(app.session, routed_file.parent)
