"""Routing in the window: busses added, renamed and removed, each strip's output and sends, bus strips with
the controls of a track's, and their meters. Each edit is checked in the session the engine API holds, and
undone; the engine process under JACK follows, and a real window under Xvfb takes real clicks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from conftest import SR, program_signal
from gui_driver import built_window, click, document, steps, until
from test_gui_dialogs import _click, _finish, user_presets  # noqa: F401 - a fixture

from rackhost.chain import Session
from rackhost.gui.app import RackApp
from rackhost.gui.preset_browser import PresetBrowser
from rackhost.gui.routing_view import ADD_SEND, MASTER
from rackhost.gui.strip import NARROW_WIDTH
from rackhost.live.commands import BusRow
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.store import PresetStore

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
    with built_window(routed_file) as rack:
        yield rack


def bus_names(app: RackApp) -> list[str]:
    return [b.name for b in app.session.busses]


def test_every_strip_shows_where_it_goes_and_its_sends_and_each_bus_has_a_strip_of_its_own(app):
    assert [dpg.get_value(v.name) for v in app.bus_strips] == ["drums", "music", "reverb"]
    assert dpg.get_value(app.strips[0].routing.output) == "drums"
    assert dpg.get_value(app.bus_strips[0].routing.output) == "music"
    assert dpg.get_value(app.bus_strips[1].routing.output) == MASTER
    # A bus cannot go to itself: its selector leaves it out.
    assert dpg.get_item_configuration(app.bus_strips[0].routing.output)["items"] == [MASTER, "music", "reverb"]
    row = app.strips[1].routing.sends["reverb"]
    assert dpg.get_value(row.level) == -6.0 and dpg.get_item_label(row.pre) == "pre"
    assert dpg.get_item_label(app.bus_strips[2].slot_buttons[0]) == "Reverb"
    # The kick sends nowhere yet: it can add a send to any bus; the vocal sends to the reverb already.
    assert dpg.get_item_configuration(app.strips[0].routing.add_send)["items"] == [ADD_SEND, "drums", "music",
                                                                                    "reverb"]
    assert dpg.get_item_configuration(app.strips[1].routing.add_send)["items"] == [ADD_SEND, "drums", "music"]


def test_a_bus_is_added_renamed_and_removed_each_as_one_undo_step(app):
    before = document(app)
    click(app.add_bus_button)
    assert bus_names(app) == ["drums", "music", "reverb", "bus 1"] and len(app.bus_strips) == 4
    click(app.bus_strips[3].name, "fx")
    assert bus_names(app) == ["drums", "music", "reverb", "fx"]
    click(app.bus_strips[2].name, "plate")  # the vocal's send follows the rename
    assert app.session.tracks[1].sends[0].bus == "plate"
    assert dpg.get_item_configuration(app.strips[1].routing.add_send)["items"] == [ADD_SEND, "drums", "music", "fx"]
    click(app.bus_strips[2].name, "drums")  # a clashing name is refused and said, nothing changed
    assert bus_names(app) == ["drums", "music", "plate", "fx"] and "already exists" in app.messages[-1]
    click(app.bus_strips[3].remove)  # nothing feeds fx: removed without a question
    assert bus_names(app) == ["drums", "music", "plate"] and app.questions.window is None
    assert app.session.history.labels()[0][-4:] == ["add bus bus 1", "rename bus bus 1 to fx",
                                                    "rename bus reverb to plate", "remove bus fx"]
    for _ in range(4):
        app.undo()
    assert document(app) == before
    assert [dpg.get_value(v.name) for v in app.bus_strips] == ["drums", "music", "reverb"]


def _question_text(app: RackApp) -> str:
    return "\n".join(dpg.get_value(c) for c in dpg.get_item_children(app.questions.window, 1)
                     if dpg.get_item_type(c).endswith("Text"))


def _answer(app: RackApp, label: str) -> None:
    buttons = dpg.get_item_children(dpg.get_item_children(app.questions.window, 1)[-1], 1)
    click(next(b for b in buttons if dpg.get_item_label(b) == label))


def test_removing_a_bus_that_others_feed_says_what_happens_to_them_and_asks(app):
    before = document(app)
    click(app.bus_strips[0].remove)  # the kick goes into the drums bus, which goes to the music bus
    assert "'kick' goes to music instead (where 'drums' went)" in _question_text(app)
    _answer(app, "Cancel")
    assert document(app) == before
    click(app.bus_strips[2].remove)  # the vocal sends to the reverb
    assert "The send to it from 'vocal' is removed." in _question_text(app)
    _answer(app, "Remove bus")
    assert bus_names(app) == ["drums", "music"] and app.session.tracks[1].sends == []
    click(app.bus_strips[0].remove)
    _answer(app, "Remove bus")
    assert bus_names(app) == ["music"] and app.session.tracks[0].output == "music"
    assert dpg.get_value(app.strips[0].routing.output) == "music"
    app.undo()
    app.undo()
    assert document(app) == before


def test_the_output_selector_routes_a_strip_and_a_loop_is_refused_with_the_engines_words(app):
    before = document(app)
    click(app.strips[0].routing.output, "reverb")
    assert app.session.tracks[0].output == "reverb" and app.session.history.labels()[0][-1] == "route kick to reverb"
    click(app.strips[0].routing.output, MASTER)
    assert app.session.tracks[0].output is None
    taken = steps(app)
    click(app.bus_strips[1].routing.output, "drums")  # drums -> music -> drums
    assert app.session.bus("music").output is None and steps(app) == taken  # nothing changed, nothing recorded
    assert app.messages[-1].startswith("routing loop: drums -> music -> drums")
    assert dpg.get_value(app.status) == app.messages[-1]
    assert dpg.get_value(app.bus_strips[1].routing.output) == MASTER  # the selector shows what the bus kept
    app.undo()
    app.undo()
    assert document(app) == before


def test_sends_are_added_leveled_switched_pre_post_muted_and_removed_each_undoable(app):
    before = document(app)
    kick = app.session.tracks[0]
    click(app.strips[0].routing.add_send, "reverb")
    assert [(s.bus, s.level_db, s.pre_fader, s.muted) for s in kick.sends] == [("reverb", 0.0, False, False)]
    row = app.strips[0].routing.sends["reverb"]
    click(row.level, -20.0)
    click(row.level, -12.5)  # one drag: one step
    app.session.history.seal()
    assert kick.send("reverb").level_db == -12.5
    click(row.level, -60.0)  # the slider's bottom is silence
    app.session.history.seal()
    assert kick.send("reverb").level_db == float("-inf") and dpg.get_value(row.value) == "-inf"
    click(row.pre)
    row = app.strips[0].routing.sends["reverb"]
    assert kick.send("reverb").pre_fader and dpg.get_item_label(row.pre) == "pre"
    click(row.mute, True)
    assert kick.send("reverb").muted
    click(app.strips[0].routing.sends["reverb"].remove)
    assert kick.sends == []
    assert app.session.history.labels()[0][-6:] == [
        "send kick to reverb", "send level to reverb", "send level to reverb", "send to reverb pre-fader",
        "mute send to reverb", "remove send kick to reverb"]
    app.undo()
    assert kick.send("reverb").muted and kick.send("reverb").level_db == float("-inf")
    for _ in range(3):  # the mute, the pre-fader switch, the drag to -inf
        app.undo()
    assert kick.send("reverb").level_db == -12.5 and not kick.send("reverb").pre_fader
    for _ in range(2):
        app.undo()
    assert document(app) == before


def test_a_bus_strip_has_a_tracks_chain_fader_pan_mute_solo_and_ab(app):
    before = document(app)
    strip = app.bus_strips[1]  # music
    music = app.session.bus("music")
    strip.fader.move_to(-7.5)  # what a drag of the fader ends with
    app.session.history.seal()
    click(strip.pan, 0.25)
    app.session.history.seal()
    click(strip.mute, True)
    click(strip.solo, True)
    assert (music.gain_db, music.pan, music.mute, music.solo) == (-7.5, 0.25, True, True)
    app.add_plugin(BusRow(1), "Gain")  # what the browser does when a plug-in is picked (loaded inline here)
    assert [s.name for s in music.chain] == ["Gain"]
    strip = app.bus_strips[1]
    click(strip.slots[0], False)  # untick: bypass
    assert music.chain[0].bypass
    panel = app.open_panel(BusRow(1), 0)
    assert dpg.get_item_label(panel.window) == "music: Gain"
    click(panel.controls["gain_db"], -3.0)
    assert music.chain[0].plugin.get("gain_db") == -3.0
    click(app.bus_strips[1].ab)  # the first switch makes B a copy of A
    assert music.ab.active == "B"
    while steps(app):
        app.undo()
    assert document(app) == before


def test_what_a_bus_plugins_editor_turns_comes_back_as_an_undoable_change(app):
    app.add_plugin(BusRow(0), "ZamCompX2")
    plugin = app.session.bus("drums").chain[1].plugin
    editor = app.open_editor(BusRow(0), 1)
    editor.messages.append({"values": {"threshold_db": -33.0}})  # as the editor process reports a turned knob
    editor.poll()
    editor.close()
    assert plugin.get("threshold_db") == pytest.approx(-33.0, abs=0.01)
    assert app.session.history.labels()[0][-1] == "set ZamCompX2 threshold_db"
    app.undo()
    assert plugin.get("threshold_db") != pytest.approx(-33.0, abs=0.01)


def test_a_bus_is_saved_as_a_bus_preset_and_loaded_onto_another_bus_from_the_preset_browser(app, user_presets):
    drums = app.session.bus("drums")
    app.session.edit.set_gain(drums, -4.0)
    browser = PresetBrowser(app)
    saver = browser.open_save()
    assert "bus drums" in dpg.get_item_configuration(saver.source)["items"]
    _click(saver.source, "bus drums")
    _click(saver.name, "drum glue")
    _click(saver.stage, "mixing")
    _click(saver.save_button)
    saved = PresetStore().load("mixing/drum glue")
    assert saved.kind == "bus" and saved.gain_db == -4.0 and [s.plugin["name"] for s in saved.slots] == ["Compressor"]
    before = document(app)
    browser.select(browser.entries.index(browser.selected))
    _click(browser.target, "bus music")
    _click(browser.load_button)
    _finish(browser)
    music = app.session.bus("music")
    assert "loaded mixing/drum glue onto bus 'music'" in browser.status_text
    assert [s.name for s in music.chain] == ["Compressor"] and music.gain_db == -4.0
    assert music.output is None  # where a bus goes is the session's, not the preset's
    app.undo()
    assert document(app) == before


def test_a_bus_strip_shows_the_engines_meter_row_for_its_bus(app):
    row = [[0.5, 0.2, 0.5, 0.0], [0.25, 0.1, 0.25, 0.0]]
    app.bus_strips[2].show_levels(row)
    assert dpg.get_value(app.bus_strips[2].readout) == "pk  -6.0  rms -14.0 dBFS"


def test_routing_edits_reach_the_engine_and_bus_strips_show_its_meters(jack_server, app, routed_file):
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    app.play()
    def bus_peak(j: int) -> float:
        stats = app.engine.stats()
        return float(app.engine.meters()[int(stats["strips"]) + j, 0, 0]) if stats.get("busses") == 3 else 0.0

    def shown(j: int) -> str:  # the strip's peak-hold readout (strips are rebuilt by a structural edit)
        return dpg.get_value(app.bus_strips[j].readout).split("rms")[0]

    until(app, lambda: bus_peak(0) > 0.05 and "-inf" not in shown(0),
          "the drums bus to sound, and its strip to show it")
    click(app.strips[0].routing.output, MASTER)  # the kick leaves the drums bus: the bus falls silent
    until(app, lambda: bus_peak(0) == 0.0 and float(app.engine.meters()[-1, 0, 0]) > 0.05,
          "the drums bus to fall silent while the master plays the kick")
    until(app, lambda: "-inf" in shown(0), "the drums strip to read -inf (its peak hold let go)")
    app.undo()
    until(app, lambda: bus_peak(0) > 0.05, "undo to bring the kick back into the drums bus")
    app.bus_strips[0].fader.move_to(-60.0)  # a bus fader: a small command, no resync
    until(app, lambda: 0 < bus_peak(0) < 0.01, "the drums bus fader to land")
    app.files.save()
    saved = load_session(routed_file)
    assert saved.bus("drums").gain_db == -60.0
    assert session_to_dict(saved, routed_file.parent) == session_to_dict(app.session, routed_file.parent)


def test_real_clicks_add_a_bus_send_to_it_and_switch_the_send_in_a_window_under_xvfb(routed_file):
    assert shutil.which("xdotool"), "make setup installs xdotool"
    script = Path(__file__).parent / "gui_routing_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(routed_file)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["busses"] == ["drums", "music", "reverb", "bus 1"]
    assert result["vocal_send"] == {"pre_fader": False, "muted": True}
    assert result["bus_mute"] is True
    assert result["history"][-4:] == ["add bus bus 1", "send to reverb post-fader", "mute send to reverb",
                                      "mute music"]
    assert result["after_ctrl_z"] == {"bus_mute": False, "send_muted": True}


def test_a_screenshot_of_a_routed_session(routed_file, tmp_path):
    shot = tmp_path / "routed.png"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-m", "rackhost.cli",
                          "gui", str(routed_file), "--no-engine", "--screenshot", str(shot)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.stat().st_size > 10_000


def test_a_bus_strip_says_what_feeds_it(app):
    assert [dpg.get_value(v.fed) for v in app.bus_strips] == ["from kick", "from drums", "sends: vocal"]


def test_narrow_strips_cut_plugin_names_but_the_tooltip_gives_them_whole_and_the_session_is_untouched(app):
    before, history = document(app), steps(app)
    app.set_narrow(True)
    strip = app.bus_strips[0]  # drums: a Compressor
    assert dpg.get_item_width(strip.root) == NARROW_WIDTH
    label = dpg.get_item_label(strip.slot_buttons[0])
    tip, text = strip.slot_tips[0]
    assert label != "Compressor" and label.endswith("..") and "Compressor".startswith(label[:-2])
    assert dpg.get_value(text) == "Compressor" and dpg.get_item_configuration(tip)["show"]
    assert document(app) == before and steps(app) == history  # a view, not an edit
    app.set_narrow(False)
    assert dpg.get_item_label(app.bus_strips[0].slot_buttons[0]) == "Compressor"
    assert not dpg.get_item_configuration(app.bus_strips[0].slot_tips[0][0])["show"]


def test_hiding_the_history_column_gives_the_rack_its_width_and_edits_nothing(app):
    before, history = document(app), steps(app)
    width = dpg.get_item_configuration(app.rack_area)["width"]
    app.show_history(False)
    assert not dpg.get_item_configuration(app.history_area)["show"] and not dpg.get_value(app.history_item)
    assert dpg.get_item_configuration(app.rack_area)["width"] > width  # a negative width: less room kept back
    assert document(app) == before and steps(app) == history  # a view, not an edit
    app.show_history(True)
    assert dpg.get_item_configuration(app.history_area)["show"]
    assert dpg.get_item_configuration(app.rack_area)["width"] == width
