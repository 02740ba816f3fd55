"""The rack's own controls: tracks, slots from the plug-in browser, parameter panels, A/B, history, files.

Built without a window (Dear PyGui builds widgets and runs callbacks without a
display); each test does what a click does and asserts on the session model,
the files written and, with a JACK server, the engine process.
"""

from __future__ import annotations

import json
import os
import signal
import time

import dearpygui.dearpygui as dpg
import numpy as np
import pytest

from conftest import SR, program_signal
from gui_driver import click, until
from rackhost.chain import Session, render_to_file
from rackhost.gui import files
from rackhost.gui.app import RackApp
from rackhost.gui.plugin_browser import GROUPS
from rackhost.presets import load_session, save_session


@pytest.fixture
def session_file(tmp_path, wav_file):
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 3.0), "drums.wav"))
    drums.chain.add("ZamCompX2", threshold_db=-20)
    drums.chain.add("Reverb").set_mix(0.3)
    session.add_track("bass", wav_file(program_signal(1, 3.0, seed=3), "bass.wav")).chain.add("ZamEQ2")
    session.master.chain.add("Limiter")
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


def names(chain) -> list[str]:
    return [slot.name for slot in chain]


def test_tracks_are_added_renamed_reordered_and_removed_with_undo(app):
    app.add_track()
    assert [t.name for t in app.session.tracks] == ["drums", "bass", "track 1"]
    assert app.session.tracks[2].input == (0,) and len(app.strips) == 3
    click(app.strips[2].name, "vox")
    click(app.strips[2].input, "in 1+2")
    click(app.strips[2].monitor, False)  # recorded, not heard
    assert not app.session.tracks[2].monitor
    app.move_track(2, -1)
    assert [t.name for t in app.session.tracks] == ["drums", "vox", "bass"]
    assert app.session.tracks[1].input == (0, 1)
    click(app.strips[1].name, "drums")  # a clashing name is refused and said, the model unchanged
    assert app.session.tracks[1].name == "vox" and "already exists" in app.messages[-1]
    app.remove_track(0)
    assert [t.name for t in app.session.tracks] == ["vox", "bass"]
    while app.session.history.can_undo:
        app.undo()
    assert [t.name for t in app.session.tracks] == ["drums", "bass"]
    assert [dpg.get_value(s.name) for s in app.strips] == ["drums", "bass"]


def test_the_browser_lists_built_ins_and_vst3s_and_adds_them_to_the_chain(app):
    browser = app.open_browser(1)
    groups = {e.group for e in browser.entries}
    assert GROUPS[0] in groups and ({GROUPS[1], GROUPS[3]} & groups)
    assert set(browser.filter("zamcomp")) == {"ZamComp", "ZamCompX2"}
    assert "Compressor" in browser.filter("compressor")
    browser.pick("Compressor")
    app.open_browser(1).pick("ZamGate")
    assert names(app.session.tracks[1].chain) == ["ZamEQ2", "Compressor", "ZamGate"]
    assert len(app.strips[1].slots) == 3  # the strip shows them
    app.open_browser(1, replace=0).pick("ZamEQ2")
    app.undo()
    app.undo()
    assert names(app.session.tracks[1].chain) == ["ZamEQ2", "Compressor"]


def test_a_plugin_that_fails_to_load_is_reported_and_changes_nothing(app):
    app.add_plugin(0, "NoSuchPlugin")
    assert names(app.session.tracks[0].chain) == ["ZamCompX2", "Reverb"]
    assert "could not load NoSuchPlugin" in app.messages[-1]


def test_slot_buttons_move_bypass_and_remove(app):
    strip = app.strips[0]
    click(strip.slots[0], False)  # unticked: bypassed
    assert app.session.tracks[0].chain[0].bypass
    app.move_slot(0, 0, 1)
    assert names(app.session.tracks[0].chain) == ["Reverb", "ZamCompX2"]
    app.move_slot(0, 1, 1)  # already last: nothing happens
    app.remove_slot(0, 0)
    assert names(app.session.tracks[0].chain) == ["ZamCompX2"]
    app.undo()
    app.undo()
    app.undo()
    assert names(app.session.tracks[0].chain) == ["ZamCompX2", "Reverb"] and not app.session.tracks[0].chain[0].bypass


def test_parameter_panel_sets_values_resets_on_double_click_and_shows_meters(app):
    panel = app.open_panel(0, 0)
    plugin = app.session.tracks[0].chain[0].plugin
    controls = plugin.controls()
    assert set(controls) <= set(panel.controls)
    assert set(panel.outputs) == {n for n, i in plugin.parameters.items() if i.role == "output"} != set()
    click(panel.controls["threshold_db"], -30.0)
    assert plugin.get("threshold_db") == pytest.approx(-30.0, abs=0.01)
    panel.reset("threshold_db", controls["threshold_db"].default)
    assert plugin.get("threshold_db") == pytest.approx(controls["threshold_db"].default, abs=0.01)
    click(panel.mix, 0.5)
    assert app.session.tracks[0].chain[0].mix == 0.5
    assert panel.filter("ratio") == ["ratio"]
    panel.filter("")
    # The unit said once, in brackets, as engineers write it: not "threshold db".
    labels = {name: dpg.get_value(panel.labels[name]) for name in ("threshold_db", "attack_ms", "ratio")}
    assert labels == {"threshold_db": "threshold (dB)", "attack_ms": "attack (ms)", "ratio": "ratio"}
    assert panel.filter("threshold (db") == ["threshold_db"]  # the filter finds what the label says
    app.undo()  # the wet/dry
    app.undo()  # the reset
    panel.refresh()
    assert app.session.tracks[0].chain[0].mix == 1.0
    assert plugin.get("threshold_db") == pytest.approx(-30.0, abs=0.01)
    app.remove_slot(0, 0)
    assert not panel.alive  # its slot is gone: so is the panel


def test_ab_switch_plays_a_copy_then_copy_makes_them_equal(app):
    master = app.session.master
    a = master.chain
    click(app.master.ab)
    assert master.ab.active == "B" and master.chain is not a and names(master.chain) == ["Limiter"]
    master.chain[0].plugin.set("threshold_db", -12.0)
    click(app.master.copy_ab)  # B -> A
    click(app.master.ab)
    assert master.ab.active == "A" and master.chain[0].plugin.get("threshold_db") == pytest.approx(-12.0)


def test_the_history_list_undoes_to_the_clicked_step(app):
    app.set_gain(0, -6.0)
    app.session.history.seal()
    app.set_mute(1, True)
    app.add_track()
    items = dpg.get_item_configuration(app.history_view.listbox)["items"]
    assert items[0] == "(opened)" and items[-1] == "3. add track track 1" and len(items) == 4
    click(app.history_view.listbox, items[1])
    assert app.session.tracks[0].gain_db == -6.0 and not app.session.tracks[1].mute
    assert len(app.session.tracks) == 2
    items = dpg.get_item_configuration(app.history_view.listbox)["items"]
    assert items[-1].strip().startswith("~") and len(items) == 4  # undone steps stay, for redo
    click(app.history_view.listbox, items[-1])
    assert len(app.session.tracks) == 3


def test_the_history_list_tells_steps_of_the_same_name_apart(app):
    # Two fader moves are two steps of one name: the newest is highlighted, and a click on the first of
    # them goes back to just after it (it went to the first of the name, whichever was clicked).
    app.set_gain(0, -6.0)
    app.session.history.seal()
    app.set_gain(0, -9.0)
    app.session.history.seal()
    app.history_view.follow()  # once a frame in the window
    items = dpg.get_item_configuration(app.history_view.listbox)["items"]
    assert len(items) == 3 and items[1] != items[2] and items[1].split(". ", 1)[1] == items[2].split(". ", 1)[1]
    assert dpg.get_value(app.history_view.listbox) == items[2]
    click(app.history_view.listbox, items[2])
    assert app.session.tracks[0].gain_db == -9.0
    click(app.history_view.listbox, items[1])
    assert app.session.tracks[0].gain_db == -6.0
    assert dpg.get_value(app.history_view.listbox) == dpg.get_item_configuration(app.history_view.listbox)["items"][1]


def test_save_as_open_recent_and_the_unsaved_changes_prompt(app, tmp_path):
    assert not app.files.dirty
    app.set_gain(0, -3.0)
    assert app.files.dirty
    app.files.quit()  # asks first
    question = app.questions.window
    assert question and "not saved" in str([dpg.get_value(c) for c in dpg.get_item_children(question, 1)])
    target = tmp_path / "saved" / "copy.json"
    target.parent.mkdir()
    assert app.files.save_as(target)
    assert not app.files.dirty and app.session_path == target
    assert load_session(target).tracks[0].gain_db == -3.0
    assert files.recent_sessions()[0] == target.resolve()
    app.files.new()
    assert app.session.tracks == [] and app.session_path is None
    app.files.open(target)
    assert app.session.tracks[0].gain_db == -3.0 and not app.files.dirty


def test_a_damaged_session_is_shown_and_the_open_one_kept(app, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 2, "tracks": [{"name": 3}]}')
    app.files.open(bad)
    assert [t.name for t in app.session.tracks] == ["drums", "bass"]
    texts = [dpg.get_value(c) for c in dpg.get_item_children(app.questions.window, 1) if dpg.get_item_type(c).endswith("Text")]
    assert any("tracks[0].name" in str(t) for t in texts)


def test_saving_into_a_missing_folder_says_so_and_writes_nothing(app, tmp_path):
    assert not app.files.save_as(tmp_path / "no" / "such" / "folder" / "s.json")
    assert app.files.dirty is False and app.session_path.name == "song.json"
    assert json.loads(app.session_path.read_text())["tracks"][0]["name"] == "drums"


def level(app: RackApp, track: int) -> float:
    """The engine's latest peak of a track (0 until the engine has published a row for it)."""
    meters = app.engine.meters() if app.engine is not None else np.zeros((0, 2, 4))
    return float(meters[track, 0, 0]) if track < len(meters) - 1 else 0.0


def test_edits_reach_the_engine_and_a_dead_engine_is_offered_a_restart(jack_server, app):
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    app.play()
    until(app, lambda: level(app, 1) > 0, "the bass to sound")
    app.set_mute(1, True)
    app.add_track("vox", app.session.tracks[0].source.path)  # a structural change: the engine resyncs
    until(app, lambda: app.engine.stats()["strips"] == 3 and level(app, 2) > 0 and level(app, 1) == 0,
          "the new track to play and the muted one to stop")
    os.kill(app.engine.pid, signal.SIGKILL)  # a plug-in crashing the engine process
    until(app, lambda: app.questions.window is not None, "the window to say the engine died")
    assert "engine process died" in app.messages[-1] and len(app.session.tracks) == 3  # the session is intact
    restart = next(c for c in dpg.get_item_children(dpg.get_item_children(app.questions.window, 1)[-1], 1)
                   if dpg.get_item_label(c) == "Restart engine")
    click(restart)
    until(app, lambda: app.engine is not None and app.engine.alive, "the engine to restart")
    app.play()
    until(app, lambda: level(app, 2) > 0, "playback with the same session")
    assert level(app, 1) == 0  # still muted: the restarted engine has the edited session


def test_recording_from_the_window_writes_wet_and_dry_takes(jack_server, app):
    app.add_track("guitar")  # a new track takes device input 1
    click(app.strips[2].arm, True)
    assert app.session.tracks[2].armed and app.session.tracks[2].input == (0,)
    app.restart_engine()
    until(app, lambda: app.engine is not None, "the engine to start")
    click(app.record_button)
    until(app, lambda: app.engine.stats()["recording"] and app.engine.stats()["position"] > SR, "a second recorded")
    app.stop()
    takes = app.session_path.parent / "takes"
    until(app, lambda: len(list(takes.glob("*.wav"))) == 2 and not app.engine.stats()["recording"],
          "the takes to be finalized")
    import soundfile as sf

    files = sorted(takes.glob("*.wav"))
    assert {("dry" in f.name, "wet" in f.name) for f in files} == {(True, False), (False, True)}
    assert all("guitar" in f.name and sf.info(f).frames >= SR for f in files)


def test_a_scan_from_the_browser_lists_new_plugins_and_failures_apart(app, tmp_path):
    import shutil

    from conftest import PROJECT_VST3_DIR

    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copytree(PROJECT_VST3_DIR / "MVerb.vst3", folder / "MVerb.vst3")
    broken = folder / "Broken.vst3" / "Contents" / "x86_64-linux"
    broken.mkdir(parents=True)
    (broken / "Broken.so").write_bytes(b"not a shared object" * 100)
    browser = app.open_browser(0)
    app.scan.add_folder(tmp_path / "no such folder")
    assert "not an existing folder" in app.messages[-1] and app.scan.task is None
    app.scan.add_folder(folder)  # what the browser's "Add a folder..." does with the chosen folder
    from rackhost.chain.discovery import added_folders

    assert folder in added_folders()
    deadline = time.monotonic() + 120
    while app.scan.task is not None and time.monotonic() < deadline:
        app.frame()  # shows "scanning plug-ins 1/2: ..." next to the spinner meanwhile
        time.sleep(0.05)
    assert app.scan.task is None
    assert "2 plug-ins, 2 new" in app.messages[-1] and "1 failed" in app.messages[-1]
    groups = {entry.name: entry.group for entry in browser.entries}
    assert groups["MVerb"] == "VST3 effects" and groups["Broken"] == "Failed to load"
    assert "MVerb" in browser.filter("mverb")


def test_without_an_audio_device_the_window_says_so_and_offline_work_goes_on(app, tmp_path):
    app.restart_engine(device="USB Interface (unplugged)")  # a device that is not there
    until(app, lambda: app.engine_state.startswith("no audio"), "the engine to give up")
    app.frame()
    status = dpg.get_value(app.status)
    assert app.engine is None and "USB Interface (unplugged)" in status and "offline work still works" in status
    app.add_plugin(0, "Gain")
    assert names(app.session.tracks[0].chain)[-1] == "Gain"
    result = render_to_file(app.session, tmp_path / "mix.wav")
    assert result.audio.shape[1] > SR


def test_midi_learn_from_the_window_and_the_fader_follows_the_controller(jack_server, app):
    import mido

    from rackhost.chain.midi import MappingTarget

    controller = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("controller", virtual=True,
                                                                           client_name="guictl")
    try:
        panel = app.open_midi()
        dpg.set_value(panel.input, "virtual:rackhost_in")
        panel.apply_ports()  # the "Use these ports" button: the engine restarts with the MIDI input
        until(app, lambda: app.engine is not None, "the engine to start with MIDI")
        jack_server.connect("guictl:controller", "rackhost:rackhost_in")
        app.learn_midi(MappingTarget(0, "gain"))  # what a right-click on the drums fader does
        assert "learning" in dpg.get_value(panel.learning)
        time.sleep(0.2)  # the command reaches the engine process
        controller.send(mido.Message("control_change", channel=0, control=21, value=100))
        until(app, lambda: app.session.midi.mappings, "the learned mapping to come back")
        assert app.session.midi.mappings[0].controller == 21 and app.files.dirty
        row = dpg.get_item_children(panel.mappings, 1)[0]
        assert dpg.get_value(dpg.get_item_children(row, 1)[1]) == "channel 1 CC 21 -> track 'drums' gain"
        controller.send(mido.Message("control_change", channel=0, control=21, value=0))
        until(app, lambda: app.session.tracks[0].gain_db < -50, "the window's fader to follow the controller")
        assert app.strips[0].fader.db == pytest.approx(app.session.tracks[0].gain_db)
        app.program_midi(1, 5, None, "mastering/streaming")
        assert [e.preset for e in app.session.midi.programs] == ["mastering/streaming"]
        time.sleep(0.2)  # the program map reaches the engine process
        controller.send(mido.Message("program_change", channel=0, program=5))
        until(app, lambda: app.session.master.chain.origin == "mastering/streaming",
              "the window's master to show the preset the engine recalled")
        assert app.session.history.labels()[0][-1] == "load preset mastering/streaming"  # undoable, like a click
        app.unmap_midi(0)
        assert app.session.midi.mappings == []
    finally:
        controller.close()


def test_an_instrument_from_the_browser_becomes_the_tracks_source_and_midi_maps_follow_edits(app):
    from rackhost.chain.midi import CCMapping, MappingTarget

    app.add_track("keys")
    app.open_browser(2).pick("Kars")
    keys = app.session.tracks[2]
    assert keys.instrument is not None and keys.instrument.name == "Kars" and keys.input == () and len(keys.chain) == 0
    assert dpg.get_value(app.strips[2].input) == "instrument: Kars"
    app.add_plugin(None, "Nekobi")  # an instrument cannot sit in the master's chain
    assert "is an instrument" in app.messages[-1] and names(app.session.master.chain) == ["Limiter"]
    click(app.strips[2].input, "in 1")  # back to a live input: the instrument goes
    assert keys.instrument is None and keys.input == (0,)
    app.undo()
    assert keys.instrument is not None
    # A mapping to the drums' reverb follows the slot when it moves, and the track when it moves.
    app.session.midi.add(CCMapping(1, 7, MappingTarget(0, "parameter", 1, "room_size")))
    app.structure_changed()
    app.move_slot(0, 1, -1)
    app.move_track(0, 1)
    assert app.session.midi.mappings[0].target == MappingTarget(1, "parameter", 0, "room_size")


@pytest.fixture
def x_display(monkeypatch):
    """A virtual X display of the test's own (Xvfb picks a free number and tells it)."""
    import subprocess

    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = server.stdout.readline().strip()
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_a_plugin_editor_that_takes_its_process_down_leaves_the_window_and_session_alone(x_display, app):
    before = app.session.history.labels()
    editor = app.open_editor(0, 0)  # ZamCompX2's own window: under Xvfb, an X error ends the process showing it
    deadline = time.monotonic() + 60
    while app.editors and time.monotonic() < deadline:
        app.frame()
        time.sleep(0.05)
    assert app.editors == [] and editor.process.returncode != 0
    assert "editor window closed unexpectedly (X Error" in app.messages[-1]
    assert "session is unharmed" in app.messages[-1]
    assert app.session.history.labels() == before and names(app.session.tracks[0].chain) == ["ZamCompX2", "Reverb"]


def test_what_an_editor_turns_comes_back_as_undoable_changes(app):
    from rackhost.gui.editor_process import changed_values

    plugin = app.session.tracks[0].chain[0].plugin
    last = dict(plugin.values())
    assert changed_values(plugin, last) == {}
    plugin.set("ratio", 6.0)
    assert changed_values(plugin, last) == {"ratio": pytest.approx(6.0)}
    plugin.set("ratio", 3.0)
    editor = app.open_editor(0, 0)
    app.move_slot(0, 0, 1)  # the slot moves while its editor is open: values still find it
    editor.messages.append({"values": {"threshold_db": -33.0}})  # as the editor process reports a turned knob
    editor.poll()
    editor.close()
    assert plugin.get("threshold_db") == pytest.approx(-33.0, abs=0.01)
    assert app.session.history.labels()[0][-1] == "set ZamCompX2 threshold_db"
    app.undo()
    assert plugin.get("threshold_db") == pytest.approx(-20.0, abs=0.01)


@pytest.mark.parametrize("plugin, name, label", [
    ("ZamCompX2", "knee_db", "knee (dB)"), ("ZamEQ2", "frequency_1_hz", "frequency 1 (Hz)"),
    ("Delay", "delay_seconds", "delay (s)"), ("LowShelfFilter", "cutoff_frequency_hz", "cutoff frequency (Hz)"),
    ("Reverb", "room_size", "room size"), ("ZamCompX2", "gain_reduction_db", "gain reduction (dB)"),
])
def test_a_parameter_label_says_its_unit_once_in_brackets(plugin, name, label):
    from rackhost.chain import Chain
    from rackhost.gui.parameter_panel import parameter_label

    info = Chain().add(plugin).plugin.parameters[name]
    assert parameter_label(info) == label


def test_the_midi_panel_puts_each_label_before_its_field(app):
    panel = app.open_midi()

    def shown(item: int) -> str:  # a text's words, or a field's own name; its label would sit to its right
        if dpg.get_item_type(item).endswith("mvText"):
            return dpg.get_value(item)
        return {panel.channel: "[ch]", panel.program: "[program]", panel.preset: "[preset]", panel.where: "[where]",
                panel.input: "[input]", panel.output: "[output]"}.get(item, dpg.get_item_label(item))

    row = dpg.get_item_children(panel.program_row, 1)
    assert [shown(i) for i in row] == ["ch", "[ch]", "program", "[program]", "recalls", "[preset]", "on", "[where]",
                                       "Add"]
    for field in (panel.channel, panel.program, panel.preset, panel.where, panel.input, panel.output):
        assert not dpg.get_item_label(field), shown(field)  # nothing after the field
    ports = [[shown(i) for i in dpg.get_item_children(dpg.get_item_parent(field), 1)]
             for field in (panel.input, panel.output)]
    assert ports == [["Input", "[input]"], ["Feedback output", "[output]"]]
