"""The split window in a real rack window under Xvfb: real clicks edit a split's branches, each one undo step."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SR, program_signal

from rackhost.chain import Session
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import save_session


def test_real_clicks_add_a_branch_a_plugin_in_it_bypass_and_remove_in_the_split_window_under_xvfb(tmp_path,
                                                                                                    wav_file):
    assert shutil.which("xdotool"), "make setup installs xdotool"
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 1.0), "drums.wav"))
    drums.chain = parse_chain("Gain(gain_db=-1); [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb")
    session.add_bus("glue", parse_chain("[BrickwallLimiter | @ -3]"))
    drums.output = "glue"
    path = tmp_path / "song.json"
    save_session(session, path)
    shot = tmp_path / "split-window.png"
    script = Path(__file__).parent / "gui_split_clicks.py"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, str(script), str(path),
                          str(shot)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["opened"] == {"panels": 1, "rows": [1, 0]}
    assert result["branches"] == [{"level_db": -6.0, "plugins": ["Compressor"], "bypassed": [True]},
                                  {"level_db": 0.0, "plugins": ["Gain"], "bypassed": [False]}]
    assert result["parameter_panel"] == ["Gain"] and result["panel_index"] == [1, 1, 0]
    assert result["history"][-4:] == ["add a branch to split", "add Gain", "bypass Compressor",
                                      "remove a branch of split"]
    # Ctrl+Z brings the dry branch back between the two, and the split window redraws it.
    assert [b["plugins"] for b in result["after_ctrl_z"]] == [["Compressor"], [], ["Gain"]]
    assert result["rows_after_ctrl_z"] == [1, 0, 1]
    assert result["after_double_click"] == {"level_db": 0.0, "typing": False, "shown": 0.0}  # was -6 dB
    assert shot.stat().st_size > 10_000
    keep = Path("/tmp/split_shots")
    if keep.is_dir():  # for a person to look at
        shutil.copy(shot, keep / shot.name)
