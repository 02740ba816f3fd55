"""The preset store, the factory library, and presets from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Chain, Session
from rackhost.chain.offline import render_mix
from rackhost.chain.render import render
from rackhost.presets.apply import apply_preset, preset_from
from rackhost.presets.preset import STAGES, PresetError
from rackhost.presets.store import PresetStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("RACKHOST_DATA_DIR", str(tmp_path / "data"))
    return PresetStore()


def _chain() -> Chain:
    chain = Chain()
    chain.add("HighpassFilter", cutoff_frequency_hz=100)
    chain.add("ZamCompX2", threshold_db=-20)
    return chain


def test_factory_library_has_three_presets_per_stage_each_described(store):
    entries = store.list()
    assert len(entries) >= 12
    for stage in STAGES:
        assert len([e for e in entries if e.stage == stage and e.factory]) >= 3
    assert all(e.description for e in entries)
    refs = {e.ref for e in entries}
    assert {"mastering/streaming", "mastering/cd", "mixing/drum-bus", "tracking/vocal"} <= refs
    assert not store.problems()


def _preset_session(preset, source: np.ndarray) -> Session:
    session = Session(sample_rate=SR, block_size=256)
    report = apply_preset(preset, session, session.add_track("t", ArraySource(source, SR)))
    assert report, report.mismatches
    return session


# About one ZamTube instance in ten renders differently from the others, in pedalboard alone too
# (state the plug-in leaves uninitialised, it seems): up to 1e-4 apart, never in time.
NOT_REPEATABLE = {"ZamTube"}


@pytest.mark.parametrize("ref", [e.ref for e in PresetStore(user_dir=None).list() if e.factory])
def test_every_factory_preset_loads_and_renders_its_tail(store, ref):
    preset = store.load(ref)
    source = program_signal(2, 2.0)  # 96,000 frames: 375 blocks of 256, where tails were once cut
    result = render(_preset_session(preset, source))
    assert np.all(np.isfinite(result.audio)) and np.max(np.abs(result.audio)) > 1e-3
    # The tail runs to where the same chain, fed the input and then silence with no tail search
    # at all, last rises above -90 dBFS. Fresh sessions both: the chain alone, no loudness target.
    padded = np.zeros((2, source.shape[1] + 6 * SR), np.float32)
    padded[:, : source.shape[1]] = source
    tailed_session = _preset_session(preset, source)
    tailed = render_mix(tailed_session)
    plain = render_mix(_preset_session(preset, padded), tail=False).audio
    loud = np.flatnonzero(np.max(np.abs(plain), axis=0) > 10 ** (-90 / 20))
    end = max(source.shape[1], int(loud[-1]) + 1)
    assert end + SR <= plain.shape[1]  # quiet for the whole second the render waits
    names = {slot.name for slot in tailed_session.tracks[0].chain}
    if names & NOT_REPEATABLE:  # two instances may differ slightly: the tail ends within a block, alike
        assert abs(tailed.audio.shape[1] - end) <= 256 and tailed.tail_frames > 0
        n = min(tailed.audio.shape[1], end)
        np.testing.assert_allclose(tailed.audio[:, :n], plain[:, :n], rtol=0, atol=1e-3)
    else:
        assert tailed.audio.shape[1] == end and tailed.tail_frames == end - source.shape[1]
        np.testing.assert_array_equal(tailed.audio, plain[:, :end])
    if {"Reverb", "Delay"} & names:
        assert tailed.tail_frames > 0.1 * SR, "a reverb or an echo rings on after the input"


def test_save_list_search_rename_duplicate_delete(store, tmp_path):
    store.save(preset_from("Lead Vox", "mixing", _chain(), description="bright lead", tags=["vocal"]))
    assert [e.ref for e in store.list(stage="mixing", text="bright")] == ["mixing/Lead Vox"]
    assert [e.ref for e in store.list(tag="VOCAL") if not e.factory] == ["mixing/Lead Vox"]
    with pytest.raises(PresetError, match="exists"):
        store.save(preset_from("Lead Vox", "mixing", _chain()))
    store.rename("mixing/Lead Vox", "Lead Vox 2")
    store.duplicate("Lead Vox 2", "Lead Vox 3")
    assert {e.name for e in store.list(stage="mixing") if not e.factory} == {"Lead Vox 2", "Lead Vox 3"}
    store.delete("mixing/Lead Vox 2")
    assert {e.name for e in store.list(stage="mixing") if not e.factory} == {"Lead Vox 3"}


def test_user_presets_never_overwrite_factory_ones(store):
    with pytest.raises(PresetError, match="factory preset has this name"):
        store.save(preset_from("streaming", "mastering", _chain()))
    with pytest.raises(PresetError, match="read-only"):
        store.delete("mastering/streaming")
    copy = store.duplicate("mastering/streaming", "my streaming")
    assert not copy.factory and copy.path.is_relative_to(store.user_dir)


def test_illegal_names_get_safe_file_names(store):
    entry = store.save(preset_from("a:b*c?<d>|e", "my-stage", _chain()))
    assert entry.path.name == "a-b-c-d-e.json"
    assert entry.name == "a:b*c?<d>|e"  # the name itself is kept in the file
    with pytest.raises(PresetError, match="without '/'"):
        store.save(preset_from("a/b", "mixing", _chain()))
    with pytest.raises(PresetError, match="stage name"):
        store.save(preset_from("x", "../etc", _chain()))
    assert "my-stage" in store.stages()


def test_export_then_import_round_trips(store, tmp_path):
    store.export("tracking/vocal", tmp_path / "v.json")
    doc = json.loads((tmp_path / "v.json").read_text())
    doc["name"] = "imported vocal"
    (tmp_path / "v.json").write_text(json.dumps(doc))
    entry = store.import_file(tmp_path / "v.json")
    assert entry.ref == "tracking/imported vocal" and not entry.factory


def test_a_broken_preset_file_in_the_folder_is_reported_not_fatal(store):
    bad = store.user_dir / "mixing" / "broken.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{oops")
    assert len(store.list()) >= 12
    assert any("broken.json" in p and "not valid JSON" in p for p in store.problems())


def rackhost(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_presets_cli_save_list_show_delete(tmp_path):
    import os

    env = dict(os.environ, RACKHOST_DATA_DIR=str(tmp_path / "data"))
    run = rackhost("presets", "save", "my chain", "--stage", "mixing", "--chain", "Compressor(ratio=3); Reverb(_mix=0.2)",
                   "--tag", "test", env=env)
    assert run.returncode == 0, run.stderr
    listing = json.loads(rackhost("presets", "list", "--tag", "test", "--json", env=env).stdout)
    assert [p["ref"] for p in listing] == ["mixing/my chain"]
    shown = rackhost("presets", "show", "mixing/my chain", env=env).stdout
    assert "1. Compressor:" in shown and "ratio=3," in shown and "2. Reverb [mix 20%]" in shown
    assert "wet_level=0.33," in shown  # float32 read-backs shown as an engineer typed them
    failed = rackhost("presets", "delete", "mastering/cd", env=env)
    assert failed.returncode == 2 and "read-only" in failed.stderr
    assert rackhost("presets", "delete", "mixing/my chain", env=env).returncode == 0
    missing = rackhost("presets", "show", "mixing/my chain", env=env)
    assert missing.returncode == 2 and "no such preset" in missing.stderr


FULL_DISK_SAVER = """
import resource, signal, sys
from rackhost.chain import Chain
from rackhost.presets.apply import preset_from
from rackhost.presets.store import PresetStore
from rackhost.errors import RackhostError
chain = Chain()
for _ in range(3):
    chain.add("Compressor")
store = PresetStore()
store.save(preset_from("big", "mixing", chain, description="first"))
# From here on the disk is 'full': any file may grow to 200 bytes only (EFBIG), as on a real full disk.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
try:
    store.save(preset_from("big", "mixing", chain, description="second"), overwrite=True)
except RackhostError as err:
    print("ERROR", err)
"""


def test_a_full_disk_on_save_is_a_clear_error_and_the_old_preset_survives(tmp_path):
    import os

    env = dict(os.environ, RACKHOST_DATA_DIR=str(tmp_path / "data"))
    run = subprocess.run([sys.executable, "-c", FULL_DISK_SAVER], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "ERROR preset" in run.stdout and "could not be saved" in run.stdout and "nothing was changed" in run.stdout
    saved = PresetStore(user_dir=tmp_path / "data" / "presets").load("mixing/big")
    assert saved.description == "first"
    assert [p.name for p in (tmp_path / "data" / "presets" / "mixing").iterdir()] == ["big.json"]


def test_the_reverb_send_preset_makes_a_bus_a_wet_reverb_return_fed_by_sends(store):
    preset = store.load("mixing/reverb-send")
    assert preset.kind == "bus"
    session = Session(sample_rate=SR, block_size=256)
    click = np.zeros((1, SR // 10), np.float32)
    click[0, 0] = 1.0
    session.add_track("snare", ArraySource(click, SR)).add_send("verb", -6.0)
    session.add_track("vocal", ArraySource(click, SR)).add_send("verb", -6.0)
    bus = session.add_bus("verb")
    apply_preset(preset, session, bus)
    assert [s.name for s in bus.chain] == ["HighpassFilter", "LowpassFilter", "Reverb"]
    bus.solo = True  # the return alone
    result = render(session)
    wet = np.max(np.abs(result.audio), axis=0)
    assert np.max(wet[: SR // 1000]) < 1e-3, "the return holds the dry click: the reverb is not all wet"
    assert result.tail_frames > SR // 2 and np.max(wet[SR // 2 :]) > 1e-4, "the return does not ring on"
