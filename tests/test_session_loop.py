"""The session's loop range (set on the window's timeline) where the window is not: `rackhost live` on a saved
session plays its loop under JACK."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
from conftest import SR

from rackhost.chain import Session
from rackhost.chain.session import LoopRange
from rackhost.presets import save_session


def _peaks(out: str) -> list[float]:
    """The master's left peak of each second `rackhost live` printed (-inf as -200)."""
    found = re.findall(r"master peak\s+(-inf|-?\d+\.\d)", out)
    return [-200.0 if value == "-inf" else float(value) for value in found]


def test_rackhost_live_loops_over_a_saved_sessions_loop_range(jack_server, tmp_path, wav_file):
    t = np.arange(3 * SR) / SR
    tone = np.where(t < 0.25, 0.5 * np.sin(2 * np.pi * 440.0 * t), 0.0).astype(np.float32)  # then silence
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("blip", wav_file(np.vstack([tone, tone]), "blip.wav"))
    env = {**os.environ, **jack_server.env}
    for loop, sounding in ((LoopRange(0.0, 0.25), True), (None, False)):
        session.loop = loop
        save_session(session, tmp_path / "s.json")
        live = subprocess.run([sys.executable, "-m", "rackhost.cli", "live", "--session", str(tmp_path / "s.json"),
                               "--duration", "3"], capture_output=True, text=True, env=env, timeout=120)
        assert live.returncode == 0, live.stderr[-2000:]
        peaks = _peaks(live.stdout)
        assert len(peaks) >= 3, live.stdout
        # The last second: the loop keeps the blip coming back; without it the file has gone silent.
        assert (peaks[-1] > -12.0) is sounding, (loop, peaks)
