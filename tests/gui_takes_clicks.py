"""Open the real rack window and drive the Takes window with xdotool; print the outcome as JSON.

Run under Xvfb by tests/test_gui_takes.py, in a process of its own (Dear PyGui's
viewport cannot be made twice in one process). ``make_session`` also writes the
demo used for docs/takes.png.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np
import soundfile as sf
from gui_window import RealWindow

from rackhost.chain import AudioFileSource, Session
from rackhost.chain.takes import take_path
from rackhost.presets import save_session

SR = 48000


def phrase(seconds: float, seed: int) -> np.ndarray:
    """A sung-like part: notes with attacks and decays, gaps between phrases (so each waveform looks its own)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    start = 0.1
    while start < seconds - 0.3:
        length = rng.uniform(0.25, 0.9)
        note = (t >= start) & (t < start + length)
        local = t[note] - start
        envelope = np.minimum(local / 0.02, 1.0) * np.exp(-local * rng.uniform(1.0, 4.0))
        out[note] += rng.uniform(0.3, 0.8) * envelope * np.sin(2 * np.pi * rng.uniform(180, 420) * local)
        start += length + rng.choice([0.02, 0.05, 0.4])
    return out.astype(np.float32)[np.newaxis, :]


def make_session(folder: Path) -> Path:
    """A session with a vocal input track (three takes recorded) and a guitar file track (none)."""
    session = Session(sample_rate=SR, block_size=256)
    vox = session.add_track("vox", None, input=(0,), armed=True)
    vox.chain.add("HighpassFilter", cutoff_frequency_hz=90)
    vox.chain.add("Compressor", threshold_db=-18, ratio=3)
    sf.write(folder / "gtr.wav", np.vstack([phrase(6.0, 9)] * 2).T, SR)
    session.add_track("gtr", AudioFileSource(folder / "gtr.wav"))
    takes = folder / "takes"
    takes.mkdir(exist_ok=True)
    for number, (seconds, seed) in enumerate([(4.0, 1), (5.5, 2), (3.2, 3)], start=1):
        dry = phrase(seconds, seed)
        for kind, audio in (("dry", dry), ("wet", np.tanh(dry * 1.5) * 0.7)):
            sf.write(take_path(takes, "vox", number, kind), audio.T, SR, subtype="PCM_24")
    path = folder / "song.json"
    save_session(session, path)
    return path


def main(folder: str, shot: str) -> None:
    session_path = make_session(Path(folder))
    real = RealWindow(session_path, "rackhost-takes-clicks")
    app = real.app
    result: dict = {}

    real.click(app.strips[0].takes)  # the vox strip's takes button
    view = app.takes
    result["opened"] = view is not None and [t.name for t in view.takes]
    real.frames(4)
    before = PEAKS_READS()
    real.frames(30)  # frames redraw from memory: no file read again
    result["reads_while_idle"] = PEAKS_READS() - before

    real.click(view.rows[2]["use"])  # take002 becomes the track's audio file
    vox = app.session.tracks[0]
    result["source_after_use"] = Path(vox.source.path).name if vox.source is not None else None
    result["input_after_use"] = list(vox.input)
    result["playing_marked"] = dpg.get_item_type(view.rows[2]["use"]).endswith("mvText")

    real.click(view.rows[1]["name"])  # rename take001: select its name, type a new one, Enter
    subprocess.run(["xdotool", "key", "--window", real.window, "ctrl+a"], check=True)
    real.type("verse keeper")
    subprocess.run(["xdotool", "key", "--window", real.window, "Return"], check=True)
    real.frames(8)
    result["names_after_rename"] = [t.name for t in view.takes]
    subprocess.run(["xdotool", "mousemove", "--window", real.window, "1200", "700"], check=True)  # no tooltip
    real.frames(6)
    dpg.output_frame_buffer(file=shot)  # three takes, one playing, one renamed
    real.frames(4)

    real.click(view.rows[2]["delete"])  # the take the track plays: asked, then refused
    real.click(_button(app, "Delete"))
    result["refused"] = view.status_text

    real.click(view.rows[3]["delete"])  # take003: asked; Cancel keeps it
    real.click(_button(app, "Cancel"))
    result["after_cancel"] = [t.name for t in view.takes]
    real.click(view.rows[3]["delete"])
    real.click(_button(app, "Delete"))
    result["after_delete"] = [t.name for t in view.takes]
    result["files"] = sorted(p.name for p in (Path(folder) / "takes").iterdir())
    print(json.dumps(result))
    real.close()


def PEAKS_READS() -> int:
    from rackhost.gui import takes_view

    return takes_view.PEAKS.reads


def _button(app, label: str) -> int:
    """The question dialog's button labelled ``label``."""
    window = app.questions.window
    for item in dpg.get_item_children(window, 1):
        for child in [item, *(dpg.get_item_children(item, 1) or [])]:
            if dpg.get_item_label(child) == label:
                return child
    raise AssertionError(f"no {label!r} button in the question")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
