"""The probe guard: a plug-in that crashed or hung its probe is refused everywhere; one never probed is probed first.

The bundles are real: shared objects built here with gcc that abort or hang as
soon as they are loaded, and a copy of Debian's ZamComp cut to 4 KB (SIGBUS),
as in test_scanner.py. Every load that could crash runs in a subprocess (the
CLI, or a small script), so a guard that lets one through fails its test
instead of taking pytest down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SR, VST3_DIR, file_loader, program_signal
from rackhost.chain.discovery import PluginCache, PluginProbeFailed
from rackhost.errors import printable
from test_scanner import ARCH_FOLDER, binary, build_bundle

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="bundles built here use the Linux VST3 layout")

PROBE_TIMEOUT = 3  # seconds: HangSo sleeps 30 s, so a hang is cut short by the probe's limit, not waited out
ABORTS = """
    #include <stdlib.h>
    __attribute__((constructor)) static void on_load(void) { abort(); }
    void *GetPluginFactory(void) { abort(); return 0; }
"""
HANGS = """
    #include <unistd.h>
    __attribute__((constructor)) static void on_load(void) { sleep(30); }
    void *GetPluginFactory(void) { sleep(30); return 0; }
"""
# name -> how its probe's reason begins
CRASHERS = {
    "AbortSo": "crashed with SIGABRT",
    "BusSo": "crashed with SIG",  # SIGBUS here; SIGSEGV on other layouts
    "HangSo": f"did not answer within {PROBE_TIMEOUT} s",
}


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A trusted plug-in folder (``$RACKHOST_VST3_PATH``) with the three crashing bundles and a good ZamComp copy.

    The cache and config folders are the test's own, and the probe's time limit is short.
    """
    monkeypatch.setenv("RACKHOST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RACKHOST_PROBE_TIMEOUT", str(PROBE_TIMEOUT))
    folder = tmp_path / "vst3"
    folder.mkdir()
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(folder))
    build_bundle(folder, "AbortSo", ABORTS)
    build_bundle(folder, "HangSo", HANGS)
    bus = folder / "BusSo.vst3"
    shutil.copytree(VST3_DIR / "ZamComp.vst3", bus)
    (bus / "Contents" / ARCH_FOLDER / "ZamComp.so").rename(binary(bus))
    with binary(bus).open("r+b") as f:
        f.truncate(4096)
    shutil.copytree(VST3_DIR / "ZamComp.vst3", folder / "GoodComp.vst3")
    (folder / "GoodComp.vst3" / "Contents" / ARCH_FOLDER / "ZamComp.so").rename(binary(folder / "GoodComp.vst3"))
    return folder


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, program_signal(1, 0.5).T, SR, subtype="FLOAT")
    return path


def rackhost(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own; ``timeout`` proves it does not hang."""
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *argv], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def python(script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def record(folder: Path, name: str):
    return PluginCache.load().records.get(str(folder / f"{name}.vst3"))


def assert_refused(result: subprocess.CompletedProcess, name: str, reason: str) -> None:
    """Exit 2 with one 'rackhost: error:' line naming the plug-in, the probe's whole reason and the retry command."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("rackhost: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"plug-in {name!r}" in lines[0] and reason in lines[0], lines[0]
    assert f"rackhost plugins --retry {name}" in lines[0], lines[0]


def session_naming(tmp_path: Path, wav: Path, plugin: str) -> Path:
    """A session whose track chain is Gain, ``plugin``, Gain; the master has a Limiter."""
    def slot(name: str, fmt: str, parameters: dict) -> dict:
        return {"plugin": {"format": fmt, "name": name}, "parameters": parameters, "bypass": False, "mix": 1.0}

    doc = {
        "format_version": 3, "sample_rate": SR, "block_size": 256,
        "tracks": [{"name": "vox", "source": str(wav), "gain_db": 0.0, "pan": 0.0, "chain": [
            slot("Gain", "builtin", {"gain_db": -6.0}), slot(plugin, "vst3", {"threshold_db": -20.0}),
            slot("Gain", "builtin", {"gain_db": 3.0})]}],
        "master": {"gain_db": 0.0, "chain": [slot("Limiter", "builtin", {"threshold_db": -1.0})]},
    }
    path = tmp_path / "song.json"
    path.write_text(json.dumps(doc))
    return path


# -- the command line ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_a_plugin_the_scan_marked_failed_is_refused_by_render_with_the_probes_reason(plugin_dir, wav, tmp_path, name):
    scanned = rackhost("scan", "--folder", str(plugin_dir), "--timeout", str(PROBE_TIMEOUT))
    assert scanned.returncode == 0, scanned.stderr
    reason = record(plugin_dir, name).error
    assert reason.startswith(CRASHERS[name])
    for named in (name, str(plugin_dir / f"{name}.vst3")):  # by name and by path
        result = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--chain", f"Gain; {named}", timeout=60)
        assert_refused(result, name, reason)  # the whole reason, as the scan recorded it
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_an_unscanned_crashing_bundle_is_probed_in_a_child_and_refused(plugin_dir, wav, tmp_path, name):
    assert record(plugin_dir, name) is None
    result = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--chain", str(plugin_dir / f"{name}.vst3"),
                      timeout=60)  # HangSo: cut short by RACKHOST_PROBE_TIMEOUT, not 30 s of sleep
    assert_refused(result, name, CRASHERS[name])
    first = record(plugin_dir, name)
    assert first is not None and not first.ok and first.fingerprint  # cached like a scan's result
    # Only the first load pays: the next one is refused from the cache, without a new probe.
    again = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--chain", name, timeout=60)
    assert_refused(again, name, first.error)
    assert record(plugin_dir, name).scanned_at == first.scanned_at


def test_an_unscanned_good_bundle_is_probed_once_and_renders_as_pedalboard_does(plugin_dir, wav, tmp_path):
    import pedalboard

    out = tmp_path / "out.wav"
    result = rackhost("render", str(wav), "-o", str(out), "--chain", "GoodComp(threshold_db=-30, ratio=4)",
                      "--no-tail", "--bit-depth", "32")
    assert result.returncode == 0, result.stderr
    first = record(plugin_dir, "GoodComp")
    assert first.ok and first.info["name"] == "ZamComp"
    # The independent reference: the same bundle loaded and run by pedalboard directly.
    direct = pedalboard.load_plugin(str(plugin_dir / "GoodComp.vst3"))
    direct.threshold_db, direct.ratio = -30.0, 4.0
    expected = direct.process(sf.read(wav, dtype="float32", always_2d=True)[0].T, SR, 512, True)
    got = sf.read(out, dtype="float32", always_2d=True)[0].T
    # A mono file through a mono plug-in is bounced mono, at unity: pedalboard's own samples.
    assert got.shape == expected.shape == (1, sf.info(wav).frames)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert rackhost("render", str(wav), "-o", str(out), "--chain", "GoodComp").returncode == 0
    assert record(plugin_dir, "GoodComp").scanned_at == first.scanned_at  # not probed again


def test_a_bundle_that_changed_since_its_probe_is_probed_again(plugin_dir, wav, tmp_path):
    out = str(tmp_path / "out.wav")
    assert rackhost("render", str(wav), "-o", out, "--chain", "GoodComp").returncode == 0
    assert record(plugin_dir, "GoodComp").ok
    # An "update" that breaks it: the cached "ok" must not let the new binary into rackhost's process.
    shutil.copy(binary(plugin_dir / "AbortSo.vst3"), binary(plugin_dir / "GoodComp.vst3"))
    result = rackhost("render", str(wav), "-o", out, "--chain", "GoodComp", timeout=60)
    assert_refused(result, "GoodComp", "crashed with SIGABRT")
    assert not record(plugin_dir, "GoodComp").ok


def test_builtins_are_never_probed(plugin_dir, wav, tmp_path):
    result = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--chain", "Gain(gain_db=-3); Limiter")
    assert result.returncode == 0, result.stderr
    assert PluginCache.load().records == {}


def test_plugins_retry_clears_the_failure_once_the_bundle_is_fixed(plugin_dir, wav, tmp_path):
    assert rackhost("scan", "--folder", str(plugin_dir), "--timeout", str(PROBE_TIMEOUT)).returncode == 0
    out = str(tmp_path / "out.wav")
    assert_refused(rackhost("render", str(wav), "-o", out, "--chain", "BusSo"), "BusSo", "crashed with SIG")
    shutil.copy(VST3_DIR / "ZamComp.vst3" / "Contents" / ARCH_FOLDER / "ZamComp.so", binary(plugin_dir / "BusSo.vst3"))
    retried = rackhost("plugins", "--retry", "BusSo", "--json")
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)[0]["channels"] == "mono"
    assert record(plugin_dir, "BusSo").ok
    rendered = rackhost("render", str(wav), "-o", out, "--chain", "BusSo")
    assert rendered.returncode == 0, rendered.stderr
    assert sf.info(out).frames >= sf.info(str(wav)).frames


def test_plugins_retry_alone_probes_every_failed_plugin_again(plugin_dir):
    assert rackhost("scan", "--folder", str(plugin_dir), "--timeout", str(PROBE_TIMEOUT)).returncode == 0
    before = {name: record(plugin_dir, name).scanned_at for name in CRASHERS}
    retried = rackhost("plugins", "--retry", "--json", timeout=120)
    assert retried.returncode == 0, retried.stderr
    listed = {item["name"]: item for item in json.loads(retried.stdout)}
    assert set(listed) == set(CRASHERS)  # the good one was not failed, so it is not probed again
    for name in CRASHERS:
        assert record(plugin_dir, name).scanned_at > before[name]
        assert "failed its probe" in listed[name]["error"]


def test_retry_by_path_for_a_bundle_outside_the_plugin_folders(plugin_dir, wav, tmp_path):
    outside = tmp_path / "Downloads"
    shutil.copytree(plugin_dir / "AbortSo.vst3", outside / "Loose.vst3")
    (outside / "Loose.vst3" / "Contents" / ARCH_FOLDER / "AbortSo.so").rename(binary(outside / "Loose.vst3"))
    result = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--chain", str(outside / "Loose.vst3"),
                      "--allow-untrusted-plugin")
    assert result.returncode == 2 and "crashed with SIGABRT" in result.stderr
    assert f"rackhost plugins --retry {outside / 'Loose.vst3'}" in result.stderr  # its name would not find it
    retried = rackhost("plugins", "--retry", str(outside / "Loose.vst3"), "--json")
    assert retried.returncode == 0 and "crashed with SIGABRT" in json.loads(retried.stdout)[0]["error"]


def test_render_session_naming_a_refused_plugin_refuses_with_the_reason(plugin_dir, wav, tmp_path):
    session = session_naming(tmp_path, wav, "AbortSo")
    result = rackhost("render", "--session", str(session), "-o", str(tmp_path / "out.wav"), timeout=60)
    # Rendering without the slot would change the mix: refuse, naming the session and the plug-in.
    assert_refused(result, "AbortSo", "crashed with SIGABRT")
    assert repr(str(session)) in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_a_preset_naming_a_refused_plugin_is_refused_by_render(plugin_dir, wav, tmp_path):
    preset = tmp_path / "crushed.json"
    slot = {"plugin": {"format": "vst3", "name": "AbortSo"}, "parameters": {}, "bypass": False, "mix": 1.0}
    preset.write_text(json.dumps({"format_version": 1, "name": "crushed", "stage": "mixing", "kind": "chain",
                                  "slots": [{"plugin": {"format": "builtin", "name": "Gain"}, "parameters": {},
                                             "bypass": False, "mix": 1.0}, slot]}))
    result = rackhost("render", str(wav), "-o", str(tmp_path / "out.wav"), "--preset", str(preset), timeout=60)
    assert_refused(result, "AbortSo", "crashed with SIGABRT")
    assert repr(str(preset)) in result.stderr


# -- the message --------------------------------------------------------------------


def test_the_refusal_is_one_line_with_the_whole_reason():
    reason = "Failed to load plugin as VST3Plugin. Errors were:\n\tVST3Plugin: Unable to load plugin x: no factory."
    err = PluginProbeFailed("X", "/p/X.vst3", reason)
    assert "\n" not in str(err) and "Unable to load plugin x: no factory." in str(err)
    assert (err.name, err.path, err.reason) == ("X", "/p/X.vst3", reason)
    assert str(err).endswith("'rackhost plugins --retry X'")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=1, max_size=6),
       st.sampled_from(["\n", "\r\n", "\n\t"]))
def test_any_reason_becomes_one_line_that_keeps_all_of_it(lines, newline):
    reason = newline.join(lines)
    message = str(PluginProbeFailed("X", "/p/X.vst3", reason))
    assert "\n" not in message and "\r" not in message and message.isprintable()
    for line in reason.splitlines():  # every line of the reason is there, escaped where it held control characters
        assert printable(line.strip()) in message


# -- loading sessions: what the window and the engine process do ----------------------


def test_loading_a_session_keeps_the_rest_and_marks_the_refused_slot(plugin_dir, wav, tmp_path):
    session = session_naming(tmp_path, wav, "HangSo")
    result = python(f"""
        import json
        from rackhost.chain import MissingPlugin, render
        from rackhost.presets import load_session
        from rackhost.presets.preset import RestoreReport
        report = RestoreReport()
        session = load_session({str(session)!r}, report)
        chain = session.tracks[0].chain
        slot = chain[1]
        rendered = render(session, tail=False)
        print(json.dumps({{"names": [s.name for s in chain], "missing": isinstance(slot.plugin, MissingPlugin),
                          "bypass": slot.bypass, "note": slot.plugin.note, "warnings": report.warnings(),
                          "refused": [r.name for r in report.refused], "values": slot.plugin.values(),
                          "peak": float(abs(rendered.audio).max())}}))
    """, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["names"] == ["Gain", "HangSo", "Gain"]
    assert got["missing"] and got["bypass"] and got["refused"] == ["HangSo"]
    assert f"did not answer within {PROBE_TIMEOUT} s" in got["note"] and "plugins --retry HangSo" in got["note"]
    assert any("HangSo" in w and "did not answer" in w for w in got["warnings"])
    assert got["values"] == {"threshold_db": -20.0}  # kept, so saving the session again loses nothing
    assert got["peak"] > 0.01


def test_the_window_opens_a_session_naming_a_crashing_plugin_with_the_slot_marked(plugin_dir, wav, tmp_path):
    """The window's own loader path, without a display, in a process that would die if the plug-in were loaded."""
    session = session_naming(tmp_path, wav, "AbortSo")
    result = python(f"""
        import json
        from pathlib import Path
        import dearpygui.dearpygui as dpg
        from rackhost.chain import Session
        from rackhost.gui.app import RackApp
        from rackhost.gui.loader import PluginLoader

        loader = PluginLoader()  # the real plug-in thread
        app = RackApp(Session(), None, start_engine=False, loader=loader)
        dpg.create_context()
        app.build()
        app.files.open(Path({str(session)!r}))
        while app.files.loading or loader.pending:
            loader.wait(60)
            app.frame()
        app.frame()
        slot = app.session.tracks[0].chain[1]
        label = dpg.get_item_label(app.strips[0].slot_buttons[1])
        # Choosing it again from the browser is refused too, and the window stays.
        app.add_plugin(0, "AbortSo")
        loader.wait(60)
        app.frame()
        print(json.dumps({{"tracks": [t.name for t in app.session.tracks], "label": label,
                          "names": [s.name for s in app.session.tracks[0].chain],
                          "note": slot.plugin.note, "messages": app.messages}}))
        app.close()
        dpg.destroy_context()
    """, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["tracks"] == ["vox"] and got["names"] == ["Gain", "AbortSo", "Gain"]
    assert got["label"].startswith("! AbortSo")
    assert "crashed with SIGABRT" in got["note"]
    assert any("AbortSo" in m and "crashed with SIGABRT" in m for m in got["messages"][:-1])  # said on opening
    assert "could not load AbortSo" in got["messages"][-1] and "plugins --retry AbortSo" in got["messages"][-1]


def test_the_browser_offers_unscanned_bundles_as_probed_when_added(plugin_dir):
    from rackhost.gui.plugin_browser import GROUPS, catalogue

    entries = {e.name: e for e in catalogue()}
    assert entries["AbortSo"].group == GROUPS[3] and "probed" in entries["AbortSo"].detail
    assert rackhost("scan", "--folder", str(plugin_dir), "--timeout", str(PROBE_TIMEOUT)).returncode == 0
    entries = {e.name: e for e in catalogue()}
    assert entries["AbortSo"].group == GROUPS[4] and "plugins --retry AbortSo" in entries["AbortSo"].detail


def test_the_engine_process_handed_a_session_naming_a_crashing_plugin_runs_the_rest(jack_server, plugin_dir, wav,
                                                                                   tmp_path):
    import time

    from jack_harness import jack_device
    from rackhost.live.commands import Play
    from rackhost.live.process import EngineProcess

    session = session_naming(tmp_path, wav, "BusSo")
    engine = EngineProcess(file_loader(session), device=jack_device())
    engine.start()
    try:
        engine.send(Play())
        deadline = time.monotonic() + 30
        while engine.stats()["callbacks"] < 200 and time.monotonic() < deadline:
            assert engine.alive, engine.poll()
            time.sleep(0.05)
        stats, events = engine.stats(), engine.poll()
        assert engine.alive and stats["running"] == 1.0, events
        assert stats["callbacks"] >= 200
    finally:
        engine.stop()
    assert not record(plugin_dir, "BusSo").ok  # the child's probe recorded it


@pytest.fixture
def x_display(monkeypatch: pytest.MonkeyPatch):
    """A virtual X display of the test's own (Xvfb picks a free number and tells it)."""
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = server.stdout.readline().strip()
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_rackhost_gui_on_a_session_naming_an_unscanned_crashing_plugin_opens_and_shows_the_rest(x_display, plugin_dir,
                                                                                              wav, tmp_path):
    session = session_naming(tmp_path, wav, "AbortSo")
    shot = tmp_path / "shot.png"
    result = rackhost("gui", str(session), "--no-engine", "--screenshot", str(shot), timeout=180)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])  # it was 134: SIGABRT, window gone
    assert shot.stat().st_size > 10_000
    assert not record(plugin_dir, "AbortSo").ok  # probed on the way, in a child
