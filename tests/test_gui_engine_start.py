"""The window's engine-start thread: whatever fails there, not only the engine's own start error, ends in a
status line that names what failed and what to do, and the window stays usable (edits, and an engine started
again on a device that is there).

Built without a display (Dear PyGui builds widgets and runs callbacks without one), as tests/test_gui_rack.py.
"""

from __future__ import annotations

import threading

import dearpygui.dearpygui as dpg
import pytest

from conftest import SR, program_signal
from gui_driver import until
from rackhost.chain import Session
from rackhost.presets import save_session


@pytest.fixture
def session_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", wav_file(program_signal(2, 3.0), "drums.wav")).chain.add("Gain")
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


def test_an_engine_start_failing_with_any_error_says_what_failed_and_what_to_do(jack_server, app):
    # The spawned engine process is handed its device by pickling: one that cannot be pickled fails the real start
    # with a TypeError, not the engine's own EngineProcessError.
    app.restart_engine(device=threading.Lock(), input_channels=0)
    until(app, lambda: not app.engine_state.startswith("starting"), "the engine start to end")
    app.frame()
    status = dpg.get_value(app.status)
    assert app.engine is None
    assert status.startswith("no audio: the audio engine did not start (TypeError: cannot pickle"), status
    assert "check Engine > Audio settings..., then Engine > Restart audio engine" in status, status
    app.play()  # what the user tries next is refused with the same reason and the way out
    assert app.messages[-1].startswith("Play: no audio engine: it did not start (TypeError: cannot pickle")
    assert "Engine > Restart audio engine" in app.messages[-1]
    # The window goes on: an edit, then an engine on the device there is (Engine > Audio settings... does this).
    app.add_plugin(0, "Gain")
    assert [slot.name for slot in app.session.tracks[0].chain] == ["Gain", "Gain"]
    app.restart_engine(device="system", input_channels=0)
    until(app, lambda: app.engine is not None and app.engine.alive, "the engine to start on the JACK device")
    assert app.engine_state == "engine running" or app.engine_state.startswith("engine running:")
    until(app, lambda: app.engine.stats().get("strips") == 1, "the engine to run the session's track")
