"""Every file rackhost writes goes through one atomic writer and carries ``format_version``.

Five kinds of file: presets, sessions, the plug-in scan cache, the plug-in
folder list (what rackhost trusts) and the recent-sessions list. Each must
read back what it wrote, read the older layouts (``"version": 1``, a bare
list), refuse a file from a newer rackhost without touching it (the scan
cache, only a copy of a scan, is set aside and rebuilt instead), and survive
a write that fails half-way with the old file intact.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import VST3_DIR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rackhost.atomic
from rackhost.atomic import write_json
from rackhost.chain.discovery import PluginCache, add_folder, added_folders, scan
from rackhost.chain.discovery.cache import CACHE_FILE_NAME, CACHE_VERSION, PluginRecord, default_cache_path
from rackhost.chain.discovery.trust import FOLDERS_VERSION, folders_file
from rackhost.gui import files as gui_files
from rackhost.presets import SessionFileError, load_session, save_session, session_to_dict
from rackhost.presets.preset import FORMAT_VERSION as PRESET_VERSION
from rackhost.presets.preset import PresetError
from rackhost.presets.preset_file import read_preset, write_preset
from rackhost.presets.session_file import FORMAT_VERSION as SESSION_VERSION
from rackhost.versions import NewerVersionError, VersionError, migrate, version_of

FACTORY_PRESET = Path(__file__).resolve().parents[1] / "presets" / "mastering" / "streaming.json"
SESSION = {
    "format_version": SESSION_VERSION, "sample_rate": 48000, "block_size": 256,
    "tracks": [{"name": "drums", "source": "drums.wav", "gain_db": -2.0,
                "chain": [{"plugin": {"format": "builtin", "name": "Compressor"},
                           "parameters": {"threshold_db": -20.0}}]}],
    "master": {"gain_db": -1.0, "chain": []},
}


@pytest.fixture
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache and config folders pointed at temp folders, so the user's own are never touched."""
    monkeypatch.setenv("RACKHOST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RACKHOST_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def session_folder(tmp_path: Path, wav_file) -> Path:
    wav_file(program_signal(2, 0.1), "drums.wav")
    return tmp_path


def _record(name: str) -> PluginRecord:
    return PluginRecord(f"/plugins/{name}.vst3", "f" * 64, "ok", info={"name": name}, probe_seconds=0.5,
                        scanned_at=1.0)


# -- each kind, written the way rackhost writes it ------------------------------------------------
# kind -> (write a first version, write a different second version) -> the file written


def _preset_writes(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], Path]:
    path = tmp / "preset.json"
    preset = read_preset(FACTORY_PRESET)
    return (lambda: write_preset(preset, path)), (lambda: write_preset(replace(preset, name="renamed"), path)), path


def _session_writes(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], Path]:
    (tmp / "source.json").write_text(json.dumps(SESSION))
    session = load_session(tmp / "source.json")
    path = tmp / "saved.json"

    def second() -> None:
        session.tracks[0].gain_db = -9.0
        save_session(session, path)

    return (lambda: save_session(session, path)), second, path


def _cache_writes(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], Path]:
    cache = PluginCache.load()

    def first() -> None:
        cache.records = {"/plugins/A.vst3": _record("A")}
        cache.save()

    def second() -> None:
        cache.records["/plugins/B.vst3"] = _record("B")
        cache.save()

    return first, second, default_cache_path()


def _folders_writes(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], Path]:
    (tmp / "one").mkdir()
    (tmp / "two").mkdir()
    return (lambda: add_folder(tmp / "one")), (lambda: add_folder(tmp / "two")), folders_file()


def _recent_writes(tmp: Path) -> tuple[Callable[[], Any], Callable[[], Any], Path]:
    return (lambda: gui_files.remember(tmp / "a.json")), (lambda: gui_files.remember(tmp / "b.json")), \
        gui_files.recent_file()


KINDS = {"preset": _preset_writes, "session": _session_writes, "scan cache": _cache_writes,
         "plug-in folder list": _folders_writes, "recent sessions": _recent_writes}


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_rackhost_writes_carries_format_version_and_no_temporary_file(kind, private_dirs,
                                                                                  session_folder):
    first, second, path = KINDS[kind](session_folder)
    first()
    second()
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and type(doc["format_version"]) is int and "version" not in doc
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_write_that_fails_half_way_leaves_the_old_file_intact(kind, private_dirs, session_folder, monkeypatch):
    first, second, path = KINDS[kind](session_folder)
    first()
    before = path.read_bytes()
    real_dump = json.dump

    def dies_half_way(document: Any, out: Any, **options: Any) -> None:
        text = json.dumps(document, **options)
        out.write(text[: len(text) // 2])
        out.flush()  # the half really reaches the temporary file
        raise KeyboardInterrupt("interrupted mid-write")

    monkeypatch.setattr(rackhost.atomic.json, "dump", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        second()
    monkeypatch.setattr(rackhost.atomic.json, "dump", real_dump)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")) == []


def test_a_value_json_cannot_hold_fails_the_write_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"format_version": 1, "kept": True})
    before = path.read_bytes()
    # The encoder writes the long text to the temporary file before it reaches the object it cannot encode.
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json(path, {"format_version": 1, "long": "x" * 100_000, "bad": object()})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["doc.json"]


@pytest.mark.parametrize("document", [{}, {"format_version": "1"}, {"format_version": True}, {"version": 1}])
def test_the_writer_refuses_a_document_without_a_whole_number_format_version(tmp_path, document):
    with pytest.raises(ValueError, match="format_version"):
        write_json(tmp_path / "doc.json", document)
    assert os.listdir(tmp_path) == []


def test_a_replaced_file_keeps_an_ordinary_files_mode(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text("{}")
    expected = os.stat(path).st_mode
    write_json(path, {"format_version": 1})
    assert os.stat(path).st_mode == expected


# -- round trips ------------------------------------------------------------------------------


def test_a_preset_round_trips(tmp_path):
    preset = read_preset(FACTORY_PRESET)
    write_preset(preset, tmp_path / "p.json")
    assert read_preset(tmp_path / "p.json") == preset
    assert json.loads((tmp_path / "p.json").read_text())["format_version"] == PRESET_VERSION


def test_a_session_round_trips(session_folder):
    (session_folder / "source.json").write_text(json.dumps(SESSION))
    session = load_session(session_folder / "source.json")
    save_session(session, session_folder / "saved.json")
    again = load_session(session_folder / "saved.json")
    assert session_to_dict(again, session_folder) == session_to_dict(session, session_folder)
    assert json.loads((session_folder / "saved.json").read_text())["format_version"] == SESSION_VERSION


def test_the_scan_cache_round_trips(private_dirs):
    cache = PluginCache.load()
    cache.records = {r.path: r for r in (_record("A"), _record("B"))}
    cache.save()
    loaded = PluginCache.load()
    assert loaded.warning is None and loaded.records == cache.records
    doc = json.loads(default_cache_path().read_text())
    assert doc["format"] == "rackhost-plugin-cache" and doc["format_version"] == CACHE_VERSION


def test_the_plugin_folder_list_round_trips(private_dirs):
    folders = [private_dirs / "a", private_dirs / "b c"]
    for folder in folders:
        folder.mkdir()
        add_folder(folder)
    assert added_folders() == folders
    doc = json.loads(folders_file().read_text())
    assert doc == {"format": "rackhost-plugin-folders", "format_version": FOLDERS_VERSION,
                   "folders": [str(f) for f in folders]}


def test_the_recent_sessions_list_round_trips_newest_first(private_dirs):
    for name in ("a.json", "b.json", "a.json"):
        gui_files.remember(private_dirs / name)
    assert gui_files.recent_sessions() == [(private_dirs / "a.json").resolve(), (private_dirs / "b.json").resolve()]
    doc = json.loads(gui_files.recent_file().read_text())
    assert doc["format_version"] == gui_files.RECENT_VERSION and doc["format"] == "rackhost-recent-sessions"


# -- older layouts are still read ------------------------------------------------------------------


def test_a_scan_cache_from_before_format_version_is_read_and_kept(private_dirs):
    path = default_cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": "rackhost-plugin-cache", "version": 1,
                                "plugins": [_record("A").to_dict()]}, indent=1))
    loaded = PluginCache.load()
    assert loaded.warning is None and loaded.records == {"/plugins/A.vst3": _record("A")}
    loaded.save()
    doc = json.loads(path.read_text())
    assert doc["format_version"] == CACHE_VERSION and "version" not in doc and len(doc["plugins"]) == 1


def test_a_plugin_folder_list_from_before_format_version_is_read_and_upgraded_on_the_next_add(private_dirs):
    old, new = private_dirs / "old", private_dirs / "new"
    old.mkdir()
    new.mkdir()
    folders_file().parent.mkdir(parents=True)
    folders_file().write_text(json.dumps({"format": "rackhost-plugin-folders", "version": 1, "folders": [str(old)]}))
    assert added_folders() == [old]
    add_folder(new)
    doc = json.loads(folders_file().read_text())
    assert doc["format_version"] == FOLDERS_VERSION and "version" not in doc and doc["folders"] == [str(old), str(new)]


def test_a_recent_sessions_list_from_before_format_version_is_a_bare_list_and_still_read(private_dirs):
    gui_files.recent_file().parent.mkdir(parents=True)
    gui_files.recent_file().write_text(json.dumps([str(private_dirs / "old.json"), 7]))
    assert gui_files.recent_sessions() == [private_dirs / "old.json"]
    gui_files.remember(private_dirs / "new.json")
    doc = json.loads(gui_files.recent_file().read_text())
    assert doc["sessions"] == [str((private_dirs / "new.json").resolve()), str(private_dirs / "old.json")]


def test_a_version_1_session_is_migrated(session_folder):
    old = dict(SESSION, format_version=1)
    old["tracks"] = [dict(SESSION["tracks"][0], chain=[{"plugin": "Compressor", "parameters": {"ratio": 3.0}}])]
    (session_folder / "old.json").write_text(json.dumps(old))
    session = load_session(session_folder / "old.json")
    assert session.tracks[0].chain.slots[0].plugin.name == "Compressor"


# -- newer files are refused, byte for byte untouched -------------------------------------------------


def _newer(path: Path, doc: Any) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path.read_bytes()


def _untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == 1_000_000_000
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []


def _says_update(err: NewerVersionError, path: Path, found: int, current: int) -> None:
    message = str(err)
    assert str(path) in message and f"version {found}" in message and f"up to version {current}" in message
    assert "update rackhost" in message and "\n" not in message
    assert (err.found, err.current, err.path) == (found, current, str(path))


def test_a_newer_plugin_folder_list_is_refused_and_left_as_it_is(private_dirs):
    (private_dirs / "mine").mkdir()
    path = folders_file()
    before = _newer(path, {"format": "rackhost-plugin-folders", "format_version": FOLDERS_VERSION + 1,
                           "folders": [], "groups": {"a key from the future": []}})
    with pytest.raises(NewerVersionError) as err:
        added_folders()
    _says_update(err.value, path, FOLDERS_VERSION + 1, FOLDERS_VERSION)
    with pytest.raises(NewerVersionError):
        add_folder(private_dirs / "mine")
    _untouched(path, before)


def test_a_newer_recent_sessions_list_is_refused_and_left_as_it_is(private_dirs):
    path = gui_files.recent_file()
    before = _newer(path, {"format": "rackhost-recent-sessions", "format_version": 99, "sessions": []})
    with pytest.raises(NewerVersionError) as err:
        gui_files.recent_sessions()
    _says_update(err.value, path, 99, gui_files.RECENT_VERSION)
    with pytest.raises(NewerVersionError):
        gui_files.remember(private_dirs / "s.json")
    _untouched(path, before)


@pytest.mark.parametrize("kind", ["preset", "session"])
def test_a_newer_preset_or_session_is_refused_naming_the_newer_version(kind, session_folder):
    path = session_folder / f"{kind}.json"
    doc = json.loads(FACTORY_PRESET.read_text()) if kind == "preset" else dict(SESSION)
    current = PRESET_VERSION if kind == "preset" else SESSION_VERSION  # factory presets may be older files
    before = _newer(path, dict(doc, format_version=current + 5))
    with pytest.raises(PresetError if kind == "preset" else SessionFileError) as err:
        (read_preset if kind == "preset" else load_session)(path)
    assert "update rackhost" in str(err.value)
    _says_update(err.value.__cause__, path, current + 5, current)
    _untouched(path, before)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the scanned bundle uses the Linux VST3 layout")
def test_a_newer_scan_cache_is_set_aside_with_a_warning_and_the_plugins_probed_again(private_dirs):
    folder = private_dirs / "vst3"
    shutil.copytree(VST3_DIR / "ZamComp.vst3", folder / "ZamComp.vst3")
    path = default_cache_path()
    _newer(path, {"format": "rackhost-plugin-cache", "format_version": CACHE_VERSION + 1, "plugins": [],
                  "a key from the future": 1})
    assert PluginCache.load().records == {}
    summary = scan([folder], workers=1)
    assert "discarded the plug-in cache" in summary.cache_warning and str(path) in summary.cache_warning
    assert f"format_version {CACHE_VERSION + 1}" in summary.cache_warning
    assert [Path(p).name for p in summary.probed] == ["ZamComp.vst3"] and summary.records[0].ok
    doc = json.loads(path.read_text())
    assert doc["format_version"] == CACHE_VERSION and len(doc["plugins"]) == 1
    assert PluginCache.load().warning is None and os.listdir(path.parent) == [CACHE_FILE_NAME]


# -- the version helpers, over any document ----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
DOCUMENTS = st.builds(lambda body, version: {**body, "format_version": version},
                      st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6), st.integers(1, 10**9))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS)
def test_any_document_round_trips_through_the_writer(tmp_path, document):
    path = tmp_path / "doc.json"
    write_json(path, document)
    assert json.loads(path.read_text(encoding="utf-8")) == document
    assert version_of(json.loads(path.read_text(encoding="utf-8")), path) == document["format_version"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=DOCUMENTS, new=DOCUMENTS)
def test_a_failed_write_of_any_document_keeps_the_old_one(tmp_path, old, new):
    path = tmp_path / "doc.json"
    write_json(path, old)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_json(path, {**new, "\uffff last": [object()]})  # the key goes last, after everything else
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["doc.json"]


@settings(max_examples=200, deadline=None)
@given(document=DOCUMENTS, current=st.integers(1, 10**9))
def test_migrate_refuses_any_newer_version_and_upgrades_any_older_one_step_by_step(document, current):
    version = document["format_version"]
    steps = {v: (lambda d, v=v: {**d, "format_version": v + 1, f"step {v}": True})
             for v in range(max(1, current - 3), current)}
    if version > current:
        with pytest.raises(NewerVersionError) as err:
            migrate(document, "f.json", kind="file", current=current, migrations=steps)
        assert (err.value.found, err.value.current) == (version, current)
    elif version < current - 3:
        with pytest.raises(VersionError, match=f"version {version} is not a known file version"):
            migrate(document, "f.json", kind="file", current=current, migrations=steps)
    else:
        migrated = migrate(document, "f.json", kind="file", current=current, migrations=steps)
        assert migrated["format_version"] == current
        assert all(migrated[f"step {v}"] for v in range(version, current))


@pytest.mark.parametrize("document", [{"format_version": 2.0}, {"format_version": None},
                                      {"format_version": False}, {}, [], "text"])
def test_a_missing_or_broken_format_version_is_a_version_error_naming_the_file(document):
    with pytest.raises(VersionError, match=r"'f.json' at format_version: missing or not a whole number"):
        version_of(document, "f.json")


def test_the_window_shows_a_newer_recent_list_as_refused_and_still_saves_the_session(private_dirs, session_folder):
    import dearpygui.dearpygui as dpg

    from rackhost.gui.app import RackApp

    (session_folder / "song.json").write_text(json.dumps(SESSION))
    recent = gui_files.recent_file()
    before = _newer(recent, {"format": "rackhost-recent-sessions", "format_version": 99, "sessions": []})
    rack = RackApp(load_session(session_folder / "song.json"), session_folder / "song.json", start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        labels = [dpg.get_item_label(i) for i in dpg.get_item_children(rack.files.recent_menu, 1)]
        assert len(labels) == 1 and "version 99 is newer" in labels[0] and str(recent) in labels[0]
        rack.set_gain(0, -6.0)
        assert rack.files.save_as(session_folder / "copy.json")
        assert load_session(session_folder / "copy.json").tracks[0].gain_db == -6.0
        assert "update rackhost" in dpg.get_value(rack.status)
    finally:
        rack.close()
        dpg.destroy_context()
    _untouched(recent, before)


@pytest.mark.parametrize("version", [0, -3])
def test_a_version_below_1_is_not_a_known_version(version):
    with pytest.raises(VersionError, match=f"version {version} is not a known preset version"):
        migrate({"format_version": version}, "p.json", kind="preset", current=1, migrations={})
