"""What a new user meets in the first minutes, in a real window under Xvfb: where the window opens and that it
opens there again; Space and Home with no audio engine say why nothing moved; long names cut with ".."; the
+ track and + bus buttons on one line; a send's level readable beside its handle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rackhost.gui.placement import Place, opening_place

TESTS = Path(__file__).resolve().parent


def _xvfb(script: str, *args: str, screen: str = "1600x900", config: Path, timeout: float = 300) -> dict:
    assert shutil.which("xvfb-run"), "make setup installs xvfb"  # the place runs move no pointer and press no key
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]),
               RACKHOST_CONFIG_DIR=str(config), JACK_NO_START_SERVER="1")
    run = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", sys.executable, script, *args],
                         capture_output=True, text=True, timeout=timeout, cwd=TESTS, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# -- where the window opens -------------------------------------------------------------------------------------

def test_the_window_opens_centred_then_where_and_as_large_as_it_was_last_closed(tmp_path):
    first = _xvfb("gui_place_run.py", "[300, 120, 1100, 640]", "null", config=tmp_path)
    assert first["opened"] == [160, 90, 1280, 720]  # centred on the 1600x900 screen, not at 100,100
    assert first["before_quit"] == [300, 120, 1100, 640]  # moved and resized by the user
    assert first["remembered"]["format_version"] == 1 and (tmp_path / "window.json").exists()
    again = _xvfb("gui_place_run.py", "null", "null", config=tmp_path)
    assert again["opened"] == [300, 120, 1100, 640]
    asked = _xvfb("gui_place_run.py", "null", "[800, 500]", config=tmp_path)  # --size 800x500 wins over it
    assert asked["opened"] == [300, 120, 800, 500]


def test_a_remembered_place_off_the_screen_now_comes_back_onto_it(tmp_path):
    (tmp_path / "window.json").write_text(json.dumps({"format": "rackhost-window-place", "format_version": 1,
                                                      "x": 2400, "y": 1300, "width": 1280, "height": 720}))
    opened = _xvfb("gui_place_run.py", "null", "null", config=tmp_path)["opened"]  # a monitor since unplugged
    assert opened == [1600 - 1280, 900 - 720, 1280, 720]


@pytest.mark.parametrize("text", ["{", '{"format_version": 99, "x": 1}', '{"format_version": 1, "x": "left"}', "[]"])
def test_a_damaged_or_newer_place_file_opens_centred(tmp_path, monkeypatch, text):
    from rackhost.gui.placement import remember, remembered

    (tmp_path / "window.json").write_text(text)
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(tmp_path))
    assert remembered() is None
    remember(Place(1, 2, 1000, 700))
    if "99" in text:  # a newer rackhost's file is left as it was
        assert (tmp_path / "window.json").read_text() == text
    else:  # a damaged one is written anew
        assert remembered() == Place(1, 2, 1000, 700)


def test_opening_place_fits_the_screen_and_keeps_an_asked_size():
    assert opening_place(None, None, (1600, 900)) == Place(160, 90, 1280, 720)
    assert opening_place(None, None, (1024, 600)) == Place(20, 20, 984, 560)  # a small screen: made to fit
    assert opening_place((1920, 1080), None, (1024, 600)) == Place(0, 0, 1920, 1080)  # asked for: kept
    assert opening_place(None, Place(-500, 50, 1000, 700), (1600, 900)) == Place(0, 50, 1000, 700)
    assert opening_place(None, Place(10, 20, 1000, 700), None) == Place(10, 20, 1000, 700)  # no screen known
    assert opening_place(None, None, None) == Place(40, 40, 1280, 720)


# -- the rack window with no audio engine, and its labels --------------------------------------------------------

@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> dict:
    """The window on a session with a long file name and a send, measured by gui_first_run_window.py with no
    JACK server and no sound card (the engine cannot start)."""
    import numpy as np
    import soundfile as sf
    from conftest import SR

    from rackhost.chain import Session
    from rackhost.presets import save_session

    folder = tmp_path_factory.mktemp("first-run")
    audio = folder / "a_very_long_recording_name_of_the_lead_vocal_take_three.wav"
    sf.write(audio, np.zeros((SR // 2, 2), np.float32), SR)
    session = Session(sample_rate=SR, block_size=256)
    vocals = session.add_track("vocals", audio)
    session.add_track("drums", audio)
    session.add_bus("reverb")
    vocals.add_send("reverb", -12.0)
    save_session(session, folder / "song.json")
    env = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"}
    assert shutil.which("xvfb-run") and shutil.which("xdotool"), "make setup installs xvfb and xdotool"
    env.update(PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]), RACKHOST_CONFIG_DIR=str(folder / "cfg"),
               JACK_NO_START_SERVER="1")
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "gui_first_run_window.py",
                          str(folder / "song.json"), str(folder)], capture_output=True, text=True, timeout=300,
                         cwd=TESTS, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (folder / "first-run.png").stat().st_size > 20_000  # the screenshot, to be looked at
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_space_and_home_with_no_engine_say_why_and_how_to_start_one(first_run):
    offline = first_run["offline"]  # opened without an engine (--no-engine)
    assert offline["space"].startswith("Play: no audio engine (opened with --no-engine)")
    assert offline["home"].startswith("Go to start: no audio engine")
    assert all("Engine > Restart audio engine" in said for said in offline.values())
    failed = first_run["failed"]  # an engine asked for, with no audio device to open
    assert first_run["engine_state"].startswith("no audio:")
    for said in failed.values():
        assert "no audio device found" in said and "Engine > Restart audio engine" in said
        assert "Engine > Audio settings..." in said and not said.endswith("...)..")  # whole: two lines hold it


def test_the_add_track_and_add_bus_buttons_are_one_line_each(first_run):
    button, text = first_run["add_track"], first_run["add_track"]["text"]
    assert button["label"] == "+ track" and first_run["add_bus"]["label"] == "+ bus"
    assert text[1] < 2 * 13  # one line of text (it was "+\ntrack": two)...
    assert text[0] + 8 <= button["rect"][2]  # ...that fits the button's width with its padding: nothing clipped


def test_a_sends_level_is_shown_clear_of_its_sliders_handle(first_run):
    send = first_run["send"]
    assert send["format"] == ""  # the slider draws its handle alone...
    assert send["value_text"] == "-12.0 dB" and send["name"] == "to reverb"
    value_bottom = send["value"][1] + send["value"][3]
    assert value_bottom <= send["slider"][1]  # ...and the level's words sit above it, where the handle never goes


def test_long_names_are_cut_with_two_dots_in_the_input_selector_and_history(first_run):
    shown = first_run["input"]["shown"]
    assert shown.endswith("..") and "file: a_very_long_recording_name_of_the_lead_vocal_take_three.wav".startswith(
        shown[:-2])
    assert shown in first_run["input"]["items"]  # the list shows the same cut name (choosing it keeps the file)
    assert len(shown) * 7 <= first_run["input"]["rect"][2] - 17  # the combo's text room, left of its arrow
    entry = first_run["history"]["items"][1]
    assert entry.endswith("..") and "1. rename drums to a drum room microphone pair, far".startswith(entry[:-2])
    assert len(entry) * 7 <= first_run["history"]["rect"][2] - 4
    assert "rename drums to a drum room microphone pair, far" in first_run["history"]["tooltip"]  # whole there
    assert first_run["after_click"] == ["vocals", "drums"]  # a click on a cut entry still goes to its step


def test_the_plugin_browser_cuts_a_long_name_and_detail_with_two_dots_and_gives_them_whole_on_hover(
        tmp_path, monkeypatch):
    import dearpygui.dearpygui as dpg
    from gui_driver import built_window

    from rackhost.chain import Session
    from rackhost.gui import plugin_browser
    from rackhost.presets import save_session

    # A scanned VST3 as the scan cache lists one (a real scan of a plug-in with a name this long takes minutes).
    long = plugin_browser.Entry("Dragonfly Early Reflections Stereo", plugin_browser.GROUPS[1],
                                "Michael Willis, Rob van den Berg stereo")
    catalogue = plugin_browser.catalogue
    monkeypatch.setattr(plugin_browser, "catalogue", lambda: catalogue() + [long])
    save_session(Session(), tmp_path / "empty.json")
    with built_window(tmp_path / "empty.json") as app:
        browser = app.open_browser(None)
        row = dpg.get_item_children(browser.rows[f"{long.group}/{long.name}"], 1)
        name, detail = (next(i for i in row if dpg.get_item_type(i).endswith(kind)) for kind in ("Selectable", "Text"))
        hovers = [dpg.get_value(dpg.get_item_children(t, 1)[0]) for t in row
                  if dpg.get_item_type(t).endswith("Tooltip")]  # Dear PyGui puts an item's tooltip beside it
        for shown, whole in ((dpg.get_item_label(name), long.name), (dpg.get_value(detail), long.detail)):
            assert shown.endswith("..") and whole.startswith(shown[:-2]), shown
        assert hovers == [long.name, long.detail]
        assert dpg.get_item_user_data(name) == long.name  # a click still picks the plug-in by its whole name
        gain = dpg.get_item_children(browser.rows[f"{plugin_browser.GROUPS[0]}/Gain"], 1)[0]
        assert dpg.get_item_label(gain) == "Gain"  # short enough: whole, no dots
