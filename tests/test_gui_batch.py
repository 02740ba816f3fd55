"""The batch dialog: the window's way to run ``rackhost batch`` (the same rackhost.chain.batch.batch underneath).

The first tests build the rack's widgets without a window and invoke what a
click would; the batches they start are real (real worker processes, real
plug-ins). The last drives the real window under Xvfb with xdotool, in a
process of its own, and measures what it wrote with pyloudnorm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from conftest import SR, program_signal

from rackhost.chain import Session
from rackhost.chain.batch import MANIFEST_NAME
from rackhost.gui.app import RackApp
from rackhost.gui.batch_dialog import CHAIN_FILE, BatchDialog
from rackhost.presets import save_session

TARGET = -16.0


@pytest.fixture
def app(tmp_path):
    """A saved session whose master chain is a -6 dB gain, in the rack's widgets, without a window."""
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("drums", None).chain.add("Gain", gain_db=-3.0)
    session.master.chain.add("Gain", gain_db=-6.0)
    save_session(session, tmp_path / "song.json")
    rack = RackApp(session, tmp_path / "song.json", start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        yield rack
    finally:
        dpg.destroy_context()


def _songs(folder: Path, count: int = 3, seconds: float = 1.5) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"song{i + 1}.wav"
        sf.write(path, ((0.15 + 0.4 * i) * program_signal(2, seconds, seed=i + 1)).T, SR, subtype="FLOAT")
        paths.append(path)
    return paths


def _finish(dialog: BatchDialog, timeout: float = 300.0) -> None:
    assert dialog.task is not None
    assert dialog.task.wait(timeout)
    dialog.poll()


def _lufs(path: Path) -> float:
    audio, rate = sf.read(str(path), always_2d=True)
    return pyloudnorm.Meter(rate).integrated_loudness(audio)


def test_the_render_menu_opens_the_batch_dialog_once(app):
    item = next(i for i in dpg.get_all_items()
                if dpg.get_item_type(i) == "mvAppItemType::mvMenuItem" and dpg.get_item_label(i) == "Batch files...")
    dpg.get_item_callback(item)()
    dpg.get_item_callback(item)()  # a second time brings it forward instead
    assert [dpg.get_item_label(w) for w in dpg.get_windows()].count(BatchDialog.TITLE) == 1


def test_mistakes_a_user_can_fix_are_said_in_the_dialog_and_start_nothing(app, tmp_path):
    dialog = BatchDialog(app)
    dialog.go()
    assert dialog.task is None and "no input files" in dialog.status_text

    songs = _songs(tmp_path / "songs", 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    dpg.set_value(dialog.inputs, str(songs[0]))
    dpg.set_value(dialog.output, str(blocker / "out"))  # a folder cannot be made inside a file
    dialog.go()
    assert dialog.task is None and "cannot create the output folder" in dialog.status_text

    empty = tmp_path / "empty"
    empty.mkdir()
    dpg.set_value(dialog.inputs, str(empty))
    dpg.set_value(dialog.output, str(tmp_path / "out"))
    dialog.go()
    assert dialog.task is None and "no audio files" in dialog.status_text

    dpg.set_value(dialog.inputs, str(tmp_path / "missing.wav"))
    dialog.go()
    assert dialog.task is None and "does not exist" in dialog.status_text

    dpg.set_value(dialog.inputs, str(songs[0]))
    dpg.set_value(dialog.album, True)
    dialog.go()
    assert dialog.task is None and "album levels files to a loudness target" in dialog.status_text
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


@pytest.mark.parametrize("source, gain_db", [("master chain (this session)", -6.0), ("track 1: drums (its chain)", -3.0)])
def test_the_sessions_own_chain_is_what_each_file_goes_through(app, tmp_path, source, gain_db):
    songs = _songs(tmp_path / "songs", 2, 0.5)
    out = tmp_path / "out"
    dialog = BatchDialog(app)
    dpg.set_value(dialog.inputs, str(tmp_path / "songs"))
    dpg.set_value(dialog.output, str(out))
    dpg.set_value(dialog.chain, source)
    dpg.set_value(dialog.jobs, 2)
    assert dialog.go() is not None
    _finish(dialog)
    assert "2 done (2 rendered, 0 already done), 0 failed" in dialog.status_text
    for song in songs:
        audio, _ = sf.read(str(song), always_2d=True)
        written, _ = sf.read(str(out / song.name), always_2d=True)
        np.testing.assert_allclose(written[: len(audio)], audio * 10 ** (gain_db / 20), atol=1e-4)  # 24-bit
    assert (out / CHAIN_FILE).is_file()  # the folder says what its files went through
    assert [row[:2] for row in dialog.rows] == [["song1.wav", "done"], ["song2.wav", "done"]]

    assert dialog.go() is not None  # the same batch again: the manifest says it is done
    _finish(dialog)
    assert "0 rendered, 2 already done" in dialog.status_text
    assert [row[1] for row in dialog.rows] == ["skipped", "skipped"]


# In make test's parallel pass (window group): single clicks and typed keys, which the window takes in order
# whatever the load, and no engine; Cancel lands while the slow batch still has files to go even on a busy machine.
@pytest.mark.beside_others
def test_real_clicks_batch_three_songs_to_a_loudness_target_show_a_failure_and_cancel_resumably(tmp_path):
    """xdotool clicks Go and types the target in the real window; then Cancel part-way, and Go again."""
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xdotool and xvfb"
    session = Session(sample_rate=SR)
    session.add_track("drums", None)
    save_session(session, tmp_path / "song.json")
    songs = _songs(tmp_path / "songs")
    (tmp_path / "songs" / "liner-notes.wav").write_text("these are not samples")
    slow = _songs(tmp_path / "slow", 6, 4.0)
    out, slow_out, shot = tmp_path / "out", tmp_path / "slow-out", tmp_path / "batch.png"
    script = Path(__file__).parent / "gui_batch_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(script),
                          str(tmp_path / "song.json"), str(tmp_path / "songs"), str(out), str(tmp_path / "slow"),
                          str(slow_out), str(shot)], check=False, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    finished = result["finished"]
    assert "no input files" in finished["empty"]
    assert finished["started"] and finished["target"] == TARGET
    assert finished["status"].startswith("3 done (3 rendered, 0 already done), 1 failed")
    rows = {row[0]: row for row in finished["rows"]}
    assert sorted(rows) == ["liner-notes.wav", "song1.wav", "song2.wav", "song3.wav"]
    assert rows["liner-notes.wav"][1] == "failed" and "cannot read" in rows["liner-notes.wav"][6]
    for song in songs:
        lufs = _lufs(out / song.name)
        assert abs(lufs - TARGET) <= 0.5
        row = rows[song.name]
        assert row[1] == "done" and abs(float(row[3]) - lufs) <= 0.2 and float(row[4]) <= -1.0
    assert not (out / "liner-notes.wav").exists()
    assert shot.stat().st_size > 20_000

    cancelled = result["cancelled"]
    assert cancelled["cancelled"] and cancelled["status"].startswith("cancelled:")
    assert "Go again picks up the rest" in cancelled["status"]
    done_before = {row[0] for row in cancelled["rows"] if row[1] == "done"}
    assert 1 <= len(done_before) < len(slow)
    assert not list(slow_out.glob(".*.part"))  # what was in flight left nothing

    resumed = result["resumed"]
    assert not resumed["cancelled"]
    assert f"{len(slow)} done ({len(slow) - len(done_before)} rendered, {len(done_before)} already done), 0 failed" \
        in resumed["status"]
    assert {row[0] for row in resumed["rows"] if row[1] == "skipped"} == done_before
    assert sorted(p.name for p in slow_out.glob("*.wav")) == sorted(p.name for p in slow)
