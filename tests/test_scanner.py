"""The plug-in scanner: real zam-plugins bundles, real crashing and hanging bundles built here with gcc.

Every scan runs on a temp folder holding copies of a few quick bundles (never
ZamVerb, which takes ~90 s to load), with the cache and config folders pointed
at temp folders so the user's own are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import VST3_DIR

from rackhost.chain.discovery import (
    PluginCache,
    UntrustedPluginError,
    add_folder,
    added_folders,
    check_trusted,
    scan,
)
from rackhost.chain.discovery.cache import CACHE_FILE_NAME
from rackhost.chain.discovery.trust import ALLOW_FLAG, PluginFoldersFileError
from rackhost.cli import scan as scan_cli
from rackhost.cli.scan import plugins_failed
from rackhost.errors import RackhostError

# name -> (layouts, parameter count, reported latency)
EXPECTED = {
    "ZamComp": (["mono"], 10, 0),
    "ZamEQ2": (["mono"], 12, 0),
    "ZamCompX2": (["stereo"], 11, 0),
    "ZaMaximX2": (["stereo"], 5, 480),
}
ARCH_FOLDER = f"{platform.machine()}-linux"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bundles built here use the Linux VST3 layout")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RACKHOST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A folder holding copies (not links: tests touch their files) of four quick real bundles."""
    folder = tmp_path / "vst3"
    folder.mkdir()
    for name in EXPECTED:
        shutil.copytree(VST3_DIR / f"{name}.vst3", folder / f"{name}.vst3")
    return folder


def binary(bundle: Path) -> Path:
    return bundle / "Contents" / ARCH_FOLDER / f"{bundle.stem}.so"


def by_name(summary) -> dict:
    return {Path(r.path).stem: r for r in summary.records}


def build_bundle(folder: Path, name: str, c_source: str) -> Path:
    """A ``Name.vst3`` bundle whose shared object is compiled from ``c_source``."""
    assert shutil.which("gcc"), "make setup installs gcc (build-essential), which builds the crashing bundles"
    bundle = folder / f"{name}.vst3"
    so = binary(bundle)
    so.parent.mkdir(parents=True)
    source = folder / f"{name}.c"
    source.write_text(textwrap.dedent(c_source))
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(source)], check=True)
    source.unlink()
    return bundle


# -- finding and describing ---------------------------------------------------------


def test_scan_describes_real_plugins(plugin_dir: Path):
    summary = scan([plugin_dir], workers=2)
    assert summary.found == 4
    assert sorted(Path(p).stem for p in summary.new) == sorted(EXPECTED)
    assert len(summary.probed) == 4 and not summary.failed and not summary.removed
    records = by_name(summary)
    for name, (layouts, count, latency) in EXPECTED.items():
        info = records[name].info
        assert records[name].ok, records[name].error
        assert info["name"] == name
        assert info["layouts"] == layouts, name
        assert len(info["parameters"]) == count, name
        assert info["latency_samples"] == latency, name
        assert info["format"] == "vst3" and info["kind"] == "effect"
        assert info["vendor"] == "Damien Zammit" and info["version"] and info["uid"]
        assert 0 < info["load_seconds"] < records[name].probe_seconds
    outputs = {p["name"] for p in records["ZamCompX2"].info["parameters"] if p["role"] == "output"}
    assert outputs == {"gain_reduction_db", "output_level_db"}
    threshold = next(p for p in records["ZamComp"].info["parameters"] if p["name"] == "threshold_db")
    assert threshold["unit"] == "dB" and threshold["minimum"] < threshold["default"] <= threshold["maximum"]


def test_probe_describes_a_plugin_as_the_engine_does(plugin_dir: Path):
    from rackhost.chain import Plugin

    summary = scan([plugin_dir], workers=2)
    in_process = Plugin.load(plugin_dir / "ZamCompX2.vst3")
    assert by_name(summary)["ZamCompX2"].info["parameters"] == [p.to_dict() for p in in_process.parameters.values()]


# -- the cache ----------------------------------------------------------------------


def test_rescan_with_nothing_changed_probes_nothing(plugin_dir: Path):
    first = scan([plugin_dir], workers=2)
    again = scan([plugin_dir], workers=2)
    assert again.probed == [] and again.new == [] and again.changed == [] and again.removed == []
    assert again.found == 4 and again.unchanged == 4
    assert [r.to_dict() for r in again.records] == [r.to_dict() for r in first.records]
    forced = scan([plugin_dir], workers=2, rescan=True)
    assert len(forced.probed) == 4 and forced.new == [] and forced.changed == []


def test_changed_added_and_removed_bundles(plugin_dir: Path):
    scan([plugin_dir], workers=2)

    so = binary(plugin_dir / "ZamComp.vst3")
    st = so.stat()
    os.utime(so, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = scan([plugin_dir], workers=2)
    assert [Path(p).stem for p in touched.changed] == ["ZamComp"]
    assert [Path(p).stem for p in touched.probed] == ["ZamComp"]
    assert by_name(touched)["ZamComp"].ok

    shutil.copytree(VST3_DIR / "ZamGate.vst3", plugin_dir / "ZamGate.vst3")
    added = scan([plugin_dir], workers=2)
    assert [Path(p).stem for p in added.new] == ["ZamGate"]
    assert [Path(p).stem for p in added.probed] == ["ZamGate"]
    assert added.found == 5 and by_name(added)["ZamGate"].info["layouts"] == ["mono"]

    shutil.rmtree(plugin_dir / "ZamEQ2.vst3")
    removed = scan([plugin_dir], workers=2)
    assert removed.removed == [str(plugin_dir / "ZamEQ2.vst3")]
    assert removed.probed == [] and removed.found == 4
    assert str(plugin_dir / "ZamEQ2.vst3") not in PluginCache.load().records


def test_scanning_one_folder_keeps_what_other_folders_cached(plugin_dir: Path, tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(VST3_DIR / "ZamGate.vst3", other / "ZamGate.vst3")
    scan([plugin_dir, other], workers=2)
    summary = scan([other], workers=2)
    assert summary.removed == [] and summary.probed == []
    assert len(PluginCache.load().records) == 5


@pytest.mark.parametrize("content", ["{not json", '{"format": "rackhost-plugin-cache", "version": 99, "plugins": []}',
                                     '{"format": "rackhost-plugin-cache", "version": 1, "plugins": [{"path": 1}]}',
                                     "[]"])
def test_unusable_cache_is_discarded_with_a_warning(plugin_dir: Path, private_dirs: Path, content: str):
    shutil.rmtree(plugin_dir / "ZamEQ2.vst3")
    shutil.rmtree(plugin_dir / "ZamCompX2.vst3")
    shutil.rmtree(plugin_dir / "ZaMaximX2.vst3")
    cache_file = private_dirs / "cache" / CACHE_FILE_NAME
    cache_file.parent.mkdir()
    cache_file.write_text(content)
    summary = scan([plugin_dir])
    assert "discarded the plug-in cache" in summary.cache_warning and str(cache_file) in summary.cache_warning
    assert len(summary.probed) == 1 and by_name(summary)["ZamComp"].ok
    # The rewritten cache is whole and current; no temp file is left beside it.
    assert PluginCache.load().warning is None and len(PluginCache.load().records) == 1
    assert os.listdir(cache_file.parent) == [CACHE_FILE_NAME]


# -- crash isolation ----------------------------------------------------------------


def test_crashing_and_hanging_plugins_fail_and_the_scan_goes_on(tmp_path: Path):
    folder = tmp_path / "bad"
    folder.mkdir()
    # (a) a real plug-in binary cut to 4 KB: the loader maps past its end (SIGBUS).
    truncated = folder / "Truncated.vst3"
    shutil.copytree(VST3_DIR / "ZamComp.vst3", truncated)
    (truncated / "Contents" / ARCH_FOLDER / "ZamComp.so").rename(binary(truncated))
    with binary(truncated).open("r+b") as f:
        f.truncate(4096)
    # (b) aborts as soon as it is loaded, and again if asked for its factory.
    build_bundle(folder, "Aborts", """
        #include <stdlib.h>
        __attribute__((constructor)) static void on_load(void) { abort(); }
        void *GetPluginFactory(void) { abort(); return 0; }
    """)
    # (c) never finishes loading.
    build_bundle(folder, "Hangs", """
        #include <unistd.h>
        __attribute__((constructor)) static void on_load(void) { sleep(30); }
        void *GetPluginFactory(void) { sleep(30); return 0; }
    """)
    # (d) a clean refusal: a shared object with no VST3 entry point.
    build_bundle(folder, "NoFactory", "int not_a_plugin(void) { return 0; }\n")
    shutil.copytree(VST3_DIR / "ZamComp.vst3", folder / "ZamComp.vst3")

    seen = []
    summary = scan([folder], timeout=3, workers=2, progress=lambda done, total, record: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]
    records = by_name(summary)
    assert records["ZamComp"].ok and records["ZamComp"].info["layouts"] == ["mono"]
    assert {Path(r.path).stem for r in summary.failed} == {"Truncated", "Aborts", "Hangs", "NoFactory"}
    assert records["Truncated"].error.startswith("crashed with SIG")  # SIGBUS here; SIGSEGV on other layouts
    assert records["Aborts"].error.startswith("crashed with SIGABRT")
    assert records["Hangs"].error.startswith("did not answer within 3 s")
    assert records["Hangs"].probe_seconds < 25  # killed, not waited for
    assert "could not load plug-in" in records["NoFactory"].error

    # Failures are cached: nothing is probed again (a hang would cost the limit every scan)...
    assert scan([folder], timeout=3).probed == []
    assert {Path(r.path).stem for r in plugins_failed()} == {"Truncated", "Aborts", "Hangs", "NoFactory"}
    # ...until the bundle changes.
    st = binary(folder / "Aborts.vst3").stat()
    os.utime(binary(folder / "Aborts.vst3"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = scan([folder], timeout=3)
    assert again.probed == again.changed == [str(folder / "Aborts.vst3")]
    assert by_name(again)["Aborts"].error.startswith("crashed with SIGABRT")


# -- trust --------------------------------------------------------------------------


def test_check_trusted_refuses_a_plugin_outside_the_scanned_folders(tmp_path: Path):
    outside = tmp_path / "Downloads" / "Evil.vst3"
    outside.mkdir(parents=True)
    with pytest.raises(UntrustedPluginError) as caught:
        check_trusted(outside)
    message = str(caught.value)
    assert isinstance(caught.value, RackhostError)
    assert repr(str(outside)) in message
    assert "runs its code" in message
    assert f"rackhost scan --add-path {outside.parent}" in message and ALLOW_FLAG in message

    check_trusted(VST3_DIR / "ZamComp.vst3")  # a standard folder
    # '..' cannot climb out of a trusted folder.
    with pytest.raises(UntrustedPluginError):
        check_trusted(VST3_DIR / ".." / ".." / ".." / outside.relative_to("/"))


def test_an_added_folder_is_trusted_and_remembered(tmp_path: Path, private_dirs: Path):
    folder = tmp_path / "mine"
    bundle = folder / "Mine.vst3"
    bundle.mkdir(parents=True)
    with pytest.raises(UntrustedPluginError):
        check_trusted(bundle)
    assert add_folder(folder) == folder
    add_folder(folder)  # twice is harmless
    assert added_folders() == [folder]
    assert json.loads((private_dirs / "config" / "plugin-folders.json").read_text())["format_version"] == 2
    check_trusted(bundle)
    check_trusted(str(bundle))

    with pytest.raises(RackhostError, match="not an existing folder"):
        add_folder(tmp_path / "missing")
    (private_dirs / "config" / "plugin-folders.json").write_text("{oops")
    with pytest.raises(PluginFoldersFileError, match="fix or delete it"):
        check_trusted(bundle)


# -- the command --------------------------------------------------------------------


def run_scan_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rackhost")
    scan_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["scan", *argv])
    return args.func(args)


def test_scan_command(plugin_dir: Path, capsys: pytest.CaptureFixture):
    shutil.rmtree(plugin_dir / "ZamEQ2.vst3")
    shutil.rmtree(plugin_dir / "ZamCompX2.vst3")
    assert run_scan_command(["--folder", str(plugin_dir), "--workers", "2"]) == 0
    out, err = capsys.readouterr()
    assert "found 2 plug-ins in 1 folder: 2 new, 0 changed, 0 unchanged, 0 failed, 0 removed; probed 2" in out
    assert "ZaMaximX2: ok, stereo, 5 parameters" in err

    assert run_scan_command(["--folder", str(plugin_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["found"] == 2 and report["probed"] == []
    assert {p["info"]["name"] for p in report["plugins"]} == {"ZamComp", "ZaMaximX2"}


@pytest.mark.parametrize("argv, fragment", [
    (["--add-path", "/no/such/folder"], "'/no/such/folder': it is not an existing folder"),
])
def test_scan_command_errors_name_the_problem(argv: list[str], fragment: str):
    with pytest.raises(RackhostError, match=fragment):
        run_scan_command(argv)


def test_plugins_command_lists_failures_and_retries_them(tmp_path: Path, private_dirs: Path):
    folder = tmp_path / "mine"
    shutil.copytree(VST3_DIR / "ZamComp.vst3", folder / "Broken.vst3")
    so = binary(folder / "Broken.vst3")
    (folder / "Broken.vst3" / "Contents" / ARCH_FOLDER / "ZamComp.so").rename(so)
    good = so.read_bytes()
    so.write_bytes(good[:4096])

    def rackhost(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rackhost.cli", *argv], capture_output=True, text=True,
                              env=dict(os.environ), timeout=300)

    scanned = rackhost("scan", "--add-path", str(folder), "--folder", str(folder), "--timeout", "30")
    assert scanned.returncode == 0, scanned.stderr
    failed = rackhost("plugins", "--failed")
    assert "Broken: crashed with SIG" in failed.stdout
    listed = json.loads(rackhost("plugins", "Broken", "--json").stdout)
    assert "failed its probe" in listed[0]["error"] and "--retry Broken" in listed[0]["error"]

    so.write_bytes(good)  # the user reinstalls it
    retried = rackhost("plugins", "--retry", "Broken", "--json")
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)[0]["channels"] == "mono"
    assert "no plug-in failed" in rackhost("plugins", "--failed").stdout


@pytest.mark.slow
def test_all_17_zam_plugins_scan_and_a_load_after_the_scan_does_not_probe_again(full_scan, monkeypatch):
    """The one test that loads ZamVerb (~90 s here), once, in the scan's child process.

    The probe child loads each bundle and runs audio through it in every layout
    it offers, so ZamVerb is proven to run there; a load in rackhost's own
    process after the scan must take the scan's record instead of paying for
    a second 90 s probe (the guard in front of every load). The scan is
    ``rackhost scan --json`` begun in the background when collection ended
    (tests/background_scan.py), so the suite does not stand still for ZamVerb.
    """
    from conftest import ZAM_ALL, ZAM_MONO_ONLY

    from rackhost.chain import Plugin
    from rackhost.chain.discovery.guard import check_probed

    summary = full_scan.result()
    monkeypatch.setenv("RACKHOST_CACHE_DIR", str(full_scan.cache_dir))  # the cache that scan wrote
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(full_scan.config_dir))
    records = {Path(r["path"]).stem: r for r in summary["plugins"]}
    assert set(ZAM_ALL) <= set(records) and summary["failed"] == []
    for name in ZAM_ALL:
        assert records[name]["status"] == "ok", records[name]
        info = records[name]["info"]
        assert info["layouts"] == (["mono"] if name in ZAM_MONO_ONLY else ["stereo"]), name
        if name != "ZamVerb":  # its parameters are checked against the scan's record below
            assert [p["name"] for p in info["parameters"]] == list(Plugin.create(name).parameters), name
    zamverb = check_probed(VST3_DIR / "ZamVerb.vst3")
    # The very record the scan wrote: a new probe would have timed its own load.
    assert zamverb.info == records["ZamVerb"]["info"] and zamverb.info["load_seconds"] > 0
    assert len(zamverb.info["parameters"]) > 0
    assert scan([VST3_DIR]).probed == []  # nothing changed: nothing probed again
