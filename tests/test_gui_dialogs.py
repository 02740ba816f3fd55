"""The preset browser, the render dialog and the audio settings: widgets drive the model, files and engine.

Built without a window (Dear PyGui builds widgets and runs callbacks without a
display); each test invokes the callbacks a click would and asserts on the
session, the files written and the engine commands. A few tests open the real
window under Xvfb with each dialog and save a screenshot.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pytest
import soundfile as sf

from conftest import SR, program_signal
from rackhost.chain import Session
from rackhost.live import devices
from rackhost.chain.loudness import loudness_over_time, measure, windowed_loudness
from rackhost.gui import render_dialog
from rackhost.gui.app import RackApp
from rackhost.gui.background import Cancelled, Task
from rackhost.gui.preset_browser import PresetBrowser
from rackhost.gui.render_dialog import RenderDialog
from rackhost.gui.settings_dialog import NO_INPUT, SettingsDialog
from rackhost.presets import save_session
from rackhost.presets.preset import capture_chain
from rackhost.presets.store import PresetStore, user_presets_dir


@pytest.fixture
def app(tmp_path, wav_file):
    """A saved two-track session in the rack's widgets, without a window; the dialogs open over it."""
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 3.0), "drums.wav"))
    drums.chain.add("ZamCompX2", threshold_db=-20)
    drums.chain.add("Reverb").set_mix(0.3)
    session.add_track("vox", wav_file(program_signal(1, 3.0, seed=2), "vox.wav"))
    session.master.chain.add("BrickwallLimiter")
    save_session(session, tmp_path / "song.json")
    rack = RackApp(session, tmp_path / "song.json", start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        yield rack
    finally:
        dpg.destroy_context()


@pytest.fixture
def user_presets():
    """The user preset folder (conftest points it into a temp folder), emptied after the test."""
    folder = user_presets_dir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _click(item: int, value: object = None) -> None:
    """What a click does: the value changes, then the item's callback runs."""
    if value is not None:
        dpg.set_value(item, value)
    callback = dpg.get_item_callback(item)
    if callback is None:  # a plain field: the dialog reads it when a button is pressed
        return
    args = (item, dpg.get_value(item) if value is None else value, dpg.get_item_user_data(item))
    params = inspect.signature(callback).parameters.values()
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        callback(*args)
    else:  # Dear PyGui passes as many of (sender, app_data, user_data) as the callback takes
        callback(*args[:len(params)])


def _texts(item: int) -> list[str]:
    """Every text shown under ``item``, depth first."""
    out = []
    if dpg.get_item_type(item) == "mvAppItemType::mvText":
        out.append(dpg.get_value(item))
    for slot in dpg.get_item_children(item).values():
        for child in slot:
            out += _texts(child)
    return out


def _finish(dialog, timeout: float = 180.0) -> None:
    """Let the worker finish, then poll once, as the next frame would."""
    assert dialog.task is not None
    assert dialog.task.wait(timeout)
    dialog.poll()


def _menu_item(label: str) -> int:
    return next(i for i in dpg.get_all_items()
                if dpg.get_item_type(i) == "mvAppItemType::mvMenuItem" and dpg.get_item_label(i) == label)


# -- the preset browser --------------------------------------------------------------------------


def test_search_and_stage_tabs_filter_the_list(app):
    browser = PresetBrowser(app)
    assert len(browser.entries) == len(PresetStore().entries()) >= 12
    _click(browser.search, "vocal")
    assert {e.ref for e in browser.entries} == {"tracking/vocal", "mixing/vocal-polish"}
    _click(browser.search, "loudness")  # a tag
    assert {e.stage for e in browser.entries} == {"mastering"} and len(browser.entries) == 4
    _click(browser.search, "rumble cut")  # words of a description
    assert [e.ref for e in browser.entries] == ["tracking/vocal"]
    _click(browser.search, "")
    mastering = next(tab for tab, stage in browser.stage_tabs.items() if stage == "mastering")
    browser._stage_chosen(browser.tabs, mastering)  # what the tab bar's callback gets on a click
    assert dpg.get_item_callback(browser.tabs) == browser._stage_chosen
    assert {e.stage for e in browser.entries} == {"mastering"}
    _click(browser.search, "no such preset anywhere")
    assert browser.entries == [] and dpg.is_item_shown(browser.empty)
    assert dpg.get_value(browser.count) == "0 presets"


def test_loading_a_factory_preset_onto_a_track_goes_through_undo(app, monkeypatch):
    redraws = []
    monkeypatch.setattr(app, "structure_changed", lambda: redraws.append(True))
    vox = app.session.tracks[1]
    before = list(vox.chain)
    browser = PresetBrowser(app)
    _click(browser.search, "rumble cut")
    browser.select(0)
    assert browser.preset.name == "vocal" and "Clean vocal tracking" in dpg.get_value(browser.description)
    _click(browser.target, "2: vox")
    _click(browser.load_button)
    assert not dpg.get_item_configuration(browser.load_button)["enabled"]  # while the worker loads
    assert dpg.is_item_shown(browser.spinner)
    _finish(browser)
    assert "loaded tracking/vocal onto track 'vox'" in browser.status_text
    assert vox.chain.origin == "tracking/vocal"
    saved = capture_chain(vox.chain)
    assert [s.plugin["name"] for s in saved] == [s.plugin["name"] for s in browser.preset.slots]
    for got, wanted in zip(saved, browser.preset.slots):
        for name, value in wanted.parameters.items():
            assert got.parameters[name] == pytest.approx(value, rel=1e-3, abs=1e-3), name
    assert redraws == [True]  # the rack redraws and the engine resyncs
    app.undo()
    assert list(vox.chain) == before


def test_a_master_preset_loads_onto_the_master_with_its_loudness_target(app):
    browser = PresetBrowser(app)
    _click(browser.search, "streaming")
    browser.select(0)
    assert [label for label, _ in browser.targets] == ["master"]
    _click(browser.load_button)
    _finish(browser)
    master = app.session.master
    assert [s.name for s in master.chain] == [s.plugin["name"] for s in browser.preset.slots]
    assert master.loudness_target is not None
    assert master.loudness_target.integrated_lufs == browser.preset.loudness_target_lufs
    app.undo()
    assert [s.name for s in master.chain] == ["BrickwallLimiter"] and master.loudness_target is None


def test_a_missing_plugin_is_flagged_in_the_details(app, user_presets):
    folder = user_presets / "mixing"
    folder.mkdir(parents=True)
    (folder / "ghost.json").write_text(
        '{"format_version": 1, "name": "ghost", "stage": "mixing", "description": "needs a plug-in",'
        ' "slots": [{"plugin": {"format": "vst3", "name": "ZamNotInstalled"}}, {"plugin": {"name": "Gain"}}]}')
    browser = PresetBrowser(app)
    _click(browser.search, "ghost")
    browser.select(0)
    shown = " ".join(_texts(browser.plugins))
    assert "ZamNotInstalled" in shown and "not installed: Debian's zam-plugins" in shown
    assert shown.count("not installed") == 1  # Gain is a built-in


def test_save_current_chain_as_a_user_preset_asks_before_overwriting(app, user_presets):
    browser = PresetBrowser(app)
    saver = browser.open_save()
    _click(saver.source, "1: drums")
    _click(saver.name, "drum crush")
    _click(saver.stage, "mixing")
    _click(saver.tags, "drums, loud")
    _click(saver.description, "the drums chain")
    _click(saver.save_button)
    files = list((user_presets / "mixing").glob("*.json"))
    assert len(files) == 1 and not dpg.does_item_exist(saver.window)
    loaded = PresetStore().load("mixing/drum crush")
    assert [s.plugin["name"] for s in loaded.slots] == ["ZamCompX2", "Reverb"]
    assert loaded.tags == ["drums", "loud"] and loaded.description == "the drums chain"
    assert loaded.slots[0].parameters["threshold_db"] == pytest.approx(-20.0)
    assert browser.selected.ref == "mixing/drum crush" and "saved mixing/drum crush" in browser.status_text

    app.session.edit.set_parameter(app.session.tracks[0].chain[0], "threshold_db", -30.0)
    again = browser.open_save()
    _click(again.source, "1: drums")
    _click(again.name, "drum crush")
    _click(again.stage, "mixing")
    _click(again.save_button)
    assert "exists. Overwrite it?" in again.status_text and dpg.is_item_shown(again.confirm)
    assert PresetStore().load("mixing/drum crush").slots[0].parameters["threshold_db"] == pytest.approx(-20.0)
    overwrite = dpg.get_item_children(again.confirm, 1)[0]
    _click(overwrite)
    assert PresetStore().load("mixing/drum crush").slots[0].parameters["threshold_db"] == pytest.approx(-30.0)
    assert len(list((user_presets / "mixing").glob("*.json"))) == 1


def test_the_master_saves_as_a_master_preset_with_its_loudness_target(app, user_presets):
    from rackhost.chain import LoudnessTarget

    app.session.edit.set_loudness_target(app.session.master, LoudnessTarget(-16.0, -1.5))
    saver = PresetBrowser(app).open_save()
    _click(saver.source, "master")
    _click(saver.name, "song master")
    _click(saver.stage, "mastering")
    _click(saver.save_button)
    loaded = PresetStore().load("mastering/song master")
    assert loaded.kind == "master" and [s.plugin["name"] for s in loaded.slots] == ["BrickwallLimiter"]
    assert (loaded.loudness_target_lufs, loaded.true_peak_ceiling_dbtp) == (-16.0, -1.5)


def test_saving_shows_errors_in_the_dialog(app, user_presets):
    saver = PresetBrowser(app).open_save()
    _click(saver.save_button)
    assert saver.status_text == "give the preset a name"
    _click(saver.name, "vocal")
    _click(saver.stage, "tracking")
    _click(saver.save_button)
    assert "factory preset (read-only)" in saver.status_text
    _click(saver.name, "a/b")
    _click(saver.save_button)
    assert "without '/'" in saver.status_text
    assert not user_presets.exists() or not list(user_presets.rglob("*.json"))


def test_the_menu_opens_each_dialog(app):
    from rackhost.gui.app import VIEWS

    assert {"presets", "render", "settings"} <= set(VIEWS)
    for label, title in (("Preset browser...", "Presets"), ("Render / bounce to file...", "Render / bounce"),
                         ("Audio settings...", "Audio settings")):
        _click(_menu_item(label))
        _click(_menu_item(label))  # an open dialog comes forward rather than opening twice
        assert [dpg.get_item_label(w) for w in dpg.get_windows()].count(title) == 1


# -- the render dialog ---------------------------------------------------------------------------


def test_render_writes_the_file_and_reports_its_loudness(app, tmp_path):
    dialog = RenderDialog(app)
    out = tmp_path / "bounce" / "mix.wav"
    out.parent.mkdir()
    _click(dialog.path, str(out))
    _click(dialog.format, "FLAC")
    assert dpg.get_value(dialog.path) == str(out.with_suffix(".flac"))
    assert dpg.get_item_configuration(dialog.depth)["items"] == ["16", "24"]
    _click(dialog.depth, "16")
    _click(dialog.render_button)
    assert not dpg.get_item_configuration(dialog.render_button)["enabled"]
    _finish(dialog)
    written = out.with_suffix(".flac")
    assert written.exists() and sf.info(str(written)).subtype == "PCM_16"
    audio, rate = sf.read(str(written), always_2d=True)
    expected = measure(audio.T, rate)
    report = dialog.report_text
    for line in expected.lines():
        assert line in report
    assert dpg.get_value(dialog.progress) == 1.0 and f"wrote {written}" in dialog.status_text
    times, lufs = dpg.get_value(dialog.short_series)[:2]
    assert len(times) == int(expected.seconds / 0.1) and times[-1] == pytest.approx(expected.seconds, abs=0.1)
    end = int(round(times[-1] * rate))  # the last whole 100 ms step
    assert lufs[-1] == pytest.approx(windowed_loudness(audio.T[:, :end], rate, (3.0,))[0], abs=1e-6)
    assert dpg.get_value(dialog.integrated_line)[0] == [pytest.approx(expected.integrated_lufs)]

    before = written.stat().st_mtime_ns
    _click(dialog.render_button)  # the file exists now: the first press only asks
    assert dialog.task is None and "exists: press Render again to replace it" in dialog.status_text
    assert written.stat().st_mtime_ns == before
    _click(dialog.render_button)
    _finish(dialog)
    assert f"wrote {written}" in dialog.status_text


def test_browse_picks_the_output_file(app, tmp_path):
    dialog = RenderDialog(app)
    _click(dialog.format, "AIFF")
    browse = next(b for b in _buttons(dialog.window) if dpg.get_item_label(b) == "Browse...")
    _click(browse)
    picker = dialog._dialog
    assert dpg.get_item_type(picker) == "mvAppItemType::mvFileDialog"
    dpg.get_item_callback(picker)(picker, {"file_path_name": str(tmp_path / "take.aiff")})
    assert dpg.get_value(dialog.path) == str(tmp_path / "take.aiff") and not dpg.does_item_exist(picker)


def test_render_to_a_loudness_target_sets_it_with_undo(app, tmp_path):
    dialog = RenderDialog(app)
    _click(dialog.path, str(tmp_path / "master.wav"))
    _click(dialog.use_target, True)
    _click(dialog.lufs, -16.0)
    _click(dialog.render_button)
    _finish(dialog)
    master = app.session.master
    assert master.loudness_target.integrated_lufs == -16.0
    assert [s.name for s in master.chain] == ["Gain", "BrickwallLimiter"]  # the gain the render steered
    assert "reached in" in dialog.report_text
    audio, rate = sf.read(str(tmp_path / "master.wav"), always_2d=True)
    assert measure(audio.T, rate).integrated_lufs == pytest.approx(-16.0, abs=0.5)
    app.undo()  # one step: the target and the gain slot
    assert master.loudness_target is None and [s.name for s in master.chain] == ["BrickwallLimiter"]


def test_render_errors_are_shown_in_the_dialog(app, tmp_path):
    dialog = RenderDialog(app)
    (tmp_path / "a-file").write_text("not a folder")
    _click(dialog.path, str(tmp_path / "a-file" / "mix.wav"))
    _click(dialog.render_button)
    assert dialog.task is None and "does not exist" in dialog.status_text
    app.session.master.chain.remove(0)  # no limiter left to steer
    _click(dialog.path, str(tmp_path / "mix.wav"))
    _click(dialog.use_target, True)
    _click(dialog.render_button)
    assert dialog.task is None and "needs a limiter" in dialog.status_text
    assert app.session.master.loudness_target is None and not (tmp_path / "mix.wav").exists()


def test_cancel_stops_the_render_and_writes_nothing(app, tmp_path, monkeypatch):
    started, resume = threading.Event(), threading.Event()
    real = render_dialog.render_to_file

    def held(session, path, progress, **options):
        def gate(done, total):
            started.set()
            resume.wait(30)
            progress(done, total)
        return real(session, path, progress=gate, **options)

    monkeypatch.setattr(render_dialog, "render_to_file", held)
    dialog = RenderDialog(app)
    out = tmp_path / "out" / "mix.wav"
    out.parent.mkdir()
    _click(dialog.path, str(out))
    _click(dialog.render_button)
    assert started.wait(60)
    _click(dialog.cancel_button)
    resume.set()
    _finish(dialog)
    assert dialog.task is None and "cancelled" in dialog.status_text
    assert list(out.parent.iterdir()) == []  # not even a partial file


def test_a_task_reports_progress_and_cancels_at_the_next_report():
    gate = threading.Event()

    def work(task):
        task.progress(1, 4, "a quarter")
        gate.wait(30)
        task.progress(2, 4)
        return "finished"

    task = Task(work)
    task.cancel()
    gate.set()
    assert task.wait(30) and task.cancelled and isinstance(task.error, Cancelled)
    ok = Task(lambda t: (t.progress(3, 4, "nearly"), "done")[1])
    assert ok.wait(30) and ok.result == "done" and ok.fraction == 0.75 and ok.message == "nearly"


def test_loudness_over_time_ends_on_the_short_term_and_momentary_loudness():
    audio = program_signal(2, 5.0)
    times, short = loudness_over_time(audio, SR, 3.0, 0.1)
    _, momentary = loudness_over_time(audio, SR, 0.4, 0.1)
    assert len(times) == 50 and times[0] == pytest.approx(0.1) and times[-1] == pytest.approx(5.0)
    assert [short[-1], momentary[-1]] == pytest.approx(windowed_loudness(audio, SR, (3.0, 0.4)), abs=1e-6)
    silent = loudness_over_time(np.zeros((2, SR)), SR)[1]
    assert all(v == -math.inf for v in silent)


# -- the audio settings ----------------------------------------------------------------------------


def test_settings_refuse_an_impossible_configuration_and_apply_a_good_one(jack_server, app, monkeypatch):
    restarts = []
    monkeypatch.setattr(app, "restart_engine", lambda **kw: restarts.append(kw))
    dialog = SettingsDialog(app)
    assert dpg.get_value(dialog.hostapi) == devices.JACK_HOSTAPI
    system = next(d for d in dialog.devices if d.hostapi == devices.JACK_HOSTAPI and d.name == "system")
    assert dpg.get_value(dialog.output) == f"{system.index}: system (2 out)"
    assert dpg.get_item_configuration(dialog.rate)["items"] == ["48000"]
    assert dpg.get_item_configuration(dialog.block)["items"][0] == "32"
    assert dpg.get_item_configuration(dialog.block)["items"][-1] == "4096"
    _click(dialog.rate, "44100")  # not offered: the JACK server runs at 48 kHz
    _click(next(b for b in _buttons(dialog.window) if dpg.get_item_label(b) == "Apply"))
    assert "'system'" in dialog.status_text and "refused 44100 Hz" in dialog.status_text
    assert "48000 Hz" in dialog.status_text and restarts == []
    _click(dialog.rate, "48000")
    _click(dialog.block, "64")
    dialog.apply()
    assert restarts == [{"device": (system.index, system.index), "block_size": 64, "sample_rate": 48000,
                         "input_channels": None}]
    _click(dialog.input, NO_INPUT)  # a playback-only setup: the engine opens the output alone
    dialog.apply()
    assert restarts[-1]["input_channels"] == 0 and restarts[-1]["device"] == (None, system.index)
    assert "applied" in dialog.status_text


def test_applied_settings_restart_the_live_engine_on_the_device(jack_server, app):
    dialog = SettingsDialog(app)
    _click(dialog.block, "128")
    try:
        config = dialog.apply()
        assert config is not None and config.block_size == 128
        for _ in range(1200):  # the engine process loads the session's plug-ins, then opens the device
            if "starting" not in app.engine_state:
                break
            time.sleep(0.1)
            app.frame()
        dialog.poll()
        assert app.engine_state == "engine running" or app.engine_state.startswith("engine running:")
        assert app.session.block_size == 128 and app.engine.alive
        shown = dpg.get_value(dialog.engine)
        assert shown == app.engine_state and shown.startswith("engine running")  # said once, not "engine: engine"
    finally:
        app.close()


def test_settings_without_any_audio_device_say_so(app, monkeypatch):
    monkeypatch.setattr(devices, "list_hostapis", lambda: [])
    monkeypatch.setattr(devices, "list_devices", lambda: [])
    dialog = SettingsDialog(app)
    shown = " ".join(_texts(dialog.window))
    assert "No audio device" in shown and "jackd -d dummy" in shown and "offline still works" in shown
    assert not hasattr(dialog, "hostapi")
    dialog.poll()  # the engine's state, said once (never "engine: engine ...")
    assert dpg.get_value(dialog.engine) == "audio engine offline"


def _buttons(item: int) -> list[int]:
    found = [item] if dpg.get_item_type(item) == "mvAppItemType::mvButton" else []
    for slot in dpg.get_item_children(item).values():
        for child in slot:
            found += _buttons(child)
    return found


# -- real windows ------------------------------------------------------------------------------------


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


# Kept, to be looked at (RACKHOST_SCREENSHOTS: another folder).
SCREENSHOTS = Path(os.environ.get("RACKHOST_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "build" / "screenshots")


def _dialog_shot(folder: Path, view: str, size: str) -> None:
    assert shutil.which("xvfb-run"), "make setup installs xvfb"
    session = Session(sample_rate=SR)
    session.add_track("drums", None, input=(0, 1)).chain.add("ZamCompX2")
    session.master.chain.add("BrickwallLimiter")
    session_file = folder / "song.json"
    save_session(session, session_file)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"dialog-{view}.png"
    shot.unlink(missing_ok=True)
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", sys.executable, "-m", "rackhost.cli", "gui",
         str(session_file), "--no-engine", "--view", view, "--screenshot", str(shot), "--size", size],
        capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert _png_size(shot) == tuple(int(v) for v in size.split("x"))
    assert shot.stat().st_size > 20_000  # a rendered dialog over the rack, not a blank frame


# These two only render (no engine, no device listed): make test runs them beside the computing tests.
@pytest.mark.parametrize("view, size", [("presets", "1280x720"), ("render", "1920x1080")])
def test_each_dialog_opens_in_a_real_window(tmp_path, view, size):
    _dialog_shot(tmp_path, view, size)


def test_the_settings_dialog_opens_in_a_real_window_with_a_jack_server_to_list(jack_server, tmp_path):
    _dialog_shot(tmp_path, "settings", "1280x720")


def test_real_clicks_and_typing_load_a_preset_and_render(tmp_path, wav_file):
    """xdotool types a search, clicks a preset and Load (plug-ins on the real loader thread), then Render."""
    assert shutil.which("xdotool"), "make setup installs xdotool"
    session = Session(sample_rate=SR)
    session.add_track("drums", wav_file(program_signal(2, 2.0), "drums.wav")).chain.add("Reverb")
    save_session(session, tmp_path / "song.json")
    out = tmp_path / "clicked.wav"
    script = Path(__file__).parent / "gui_dialog_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(tmp_path / "song.json"), str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["preset"]["listed"] == ["mixing/drum-bus"]
    assert result["preset"]["chain"] == ["ZamCompX2", "HighShelfFilter"]
    assert "loaded mixing/drum-bus onto track 'drums'" in result["preset"]["status"]
    assert result["render_status"].startswith(f"wrote {out}")
    audio, rate = sf.read(str(out), always_2d=True)
    assert measure(audio.T, rate).lines()[-1] in result["report"]
