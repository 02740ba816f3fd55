"""The Takes window driven with real clicks and keys (xdotool) on the real window under Xvfb."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def test_the_takes_window_uses_renames_and_deletes_takes_with_real_clicks(tmp_path):
    assert shutil.which("xdotool") and shutil.which("xvfb-run"), "make setup installs xvfb and xdotool"
    script = Path(__file__).parent / "gui_takes_clicks.py"
    shot = tmp_path / "takes.png"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script),
                          str(tmp_path), str(shot)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["opened"] == ["take001", "take002", "take003"]  # the strip's takes button opened the list
    assert result["reads_while_idle"] == 0  # frames draw the waveforms from memory, never from the files
    assert result["source_after_use"] == "vox-take002-dry.wav" and result["input_after_use"] == []
    assert result["playing_marked"]  # the row of the take the track plays says so instead of offering "use"
    assert result["names_after_rename"] == ["verse keeper", "take002", "take003"]
    assert result["refused"].startswith("take 'take002' is the audio file of track 'vox'")
    assert result["after_cancel"] == ["verse keeper", "take002", "take003"]  # Cancel in the question deletes nothing
    assert result["after_delete"] == ["verse keeper", "take002"]
    assert result["files"] == ["vox-take001-verse keeper-dry.wav", "vox-take001-verse keeper-wet.wav",
                               "vox-take002-dry.wav", "vox-take002-wet.wav"]
    assert shot.stat().st_size > 10_000
