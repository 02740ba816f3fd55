"""The soak, for 60 s: the engine process plays 32 tracks under JACK while a driver edits it every second.

``bench/soak.py --minutes 1`` in a process of its own (its own JACK server),
with a fixed seed so every run makes the same edits. It asserts what holds on
any machine: no fault (the engine lived, and reported no failed command, no
plug-in that raised, no stream that stopped), every take complete (each frame
the callback recorded is in the files), the engine's memory bounded (a
generous bound: the 10 MB target is for the 30-minute run, after its first
minute). Xrun rates and wall time are the benchmark's to report, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jack_harness import jackd_available

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"
SEED = 20  # the edits of every CI run; bench/soak.py draws a new seed unless told
RSS_GROWTH_BOUND_MB = 64.0


# In make test's parallel pass: the engine's audio thread runs at JACK's real-time priority above the computing
# tests, and xruns, which they may cause, are not what it asserts (it passed beside them on a machine at load 15).
@pytest.mark.beside_others
def test_sixty_seconds_of_random_edits_leave_no_fault_complete_takes_and_bounded_memory():
    if not jackd_available():
        pytest.fail("needs jackd, jack_lsp and JACK-Client: 'make setup' installs them (jackd2, JACK-Client)")
    run = subprocess.run([sys.executable, str(SOAK), "--minutes", "1", "--settle", "20", "--reference-seconds", "0",
                          "--seed", str(SEED)], check=False, capture_output=True, text=True, timeout=300)
    lines = run.stdout.strip().splitlines()
    assert lines, f"no output; exit {run.returncode}: {run.stderr[-2000:]}"
    report = json.loads(lines[-1])
    said = "\n".join(lines[:-1])
    assert lines[0].startswith(f"soak: seed {SEED}")
    assert report["faults"] == 0, said
    assert report["edits"] >= 30 and len(report["edit_counts"]) >= 8, said  # the edits did happen, of many kinds
    # the xruns until the next edit, per edit of each kind (which edits cost the audio)
    per_edit = report["xruns_per_edit"]
    assert set(per_edit) <= set(report["edit_counts"]) and len(per_edit) >= 6, said
    assert all(value >= 0 for value in per_edit.values()), said
    counts = report["xrun_samples"]  # the engine's xruns so far, every 10 s, as the memory is sampled
    assert len(counts) == len(report["rss_samples_mb"]) >= 5 and counts == sorted(counts), said
    assert report["takes"] >= 2 and report["takes_complete"], said
    assert report["rss_growth_mb"] < RSS_GROWTH_BOUND_MB, said
    assert run.returncode == 0, said
