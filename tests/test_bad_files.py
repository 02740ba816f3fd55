"""Thousands of mutated preset and session files: a clear error or a load, never a crash or a change on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.errors import RackhostError
from rackhost.presets import load_session
from rackhost.presets.preset import restore_chain
from rackhost.presets.preset_file import read_preset
from rackhost.presets.session_file import FORMAT_VERSION as SESSION_FORMAT_VERSION

VALID_PRESET = json.loads((Path(__file__).resolve().parents[1] / "presets/mastering/streaming.json").read_text())
VALID_SESSION = {
    "format_version": 2, "sample_rate": 48000, "block_size": 256,
    "tracks": [{"name": "t", "source": None, "gain_db": -1.0, "pan": 0.2, "mute": False, "solo": False,
                "chain": [{"plugin": {"format": "builtin", "name": "Compressor"}, "parameters": {"ratio": 2.0}},
                          {"plugin": {"format": "vst3", "name": "ZamCompX2"}, "parameters": {"threshold_db": -20.0},
                           "raw_state": "AAAA", "mix": 0.5}]}],
    "master": {"gain_db": 0.0, "chain": [{"plugin": {"name": "BrickwallLimiter"}}],
               "loudness_target": {"integrated_lufs": -14.0, "true_peak_dbtp": -1.0}},
}

# Loaded plug-ins switch the CPU to flush-to-zero, so hypothesis must not draw subnormal floats.
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                      st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                          max_leaves=6)


def _paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> str:
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(parent[path[-1]])
        else:
            parent[path[-1]] = draw(json_value)
    text = json.dumps(doc)
    if draw(st.integers(0, 9)) == 0:  # sometimes not even JSON
        cut = draw(st.integers(0, max(0, len(text) - 1)))
        text = text[:cut]
    return text


SETTINGS = settings(max_examples=1500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])


@SETTINGS
@given(text=mutated(VALID_PRESET))
def test_mutated_presets_load_or_fail_clearly(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "fuzz-preset.json"
    path.write_text(text)
    try:
        restore_chain(read_preset(path))
    except RackhostError as err:
        assert str(err) and "\n" not in str(err)
    assert path.read_text() == text


@SETTINGS
@given(text=mutated(VALID_SESSION))
def test_mutated_sessions_load_or_fail_clearly(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "fuzz-session.json"
    path.write_text(text)
    try:
        load_session(path)
    except RackhostError as err:
        assert str(err) and "\n" not in str(err)
    assert path.read_text() == text


SAVER = """
import sys
from pathlib import Path
from rackhost.chain import Session, ArraySource
from rackhost.presets import save_session
import numpy as np
session = Session()
for i in range(40):
    t = session.add_track(f"track {i}", None)
    for _ in range(6):
        t.chain.add("Compressor", ratio=2 + i % 5)
path = Path(sys.argv[1])
print("ready", flush=True)
n = 0
while True:
    session.tracks[0].gain_db = -(n % 50)
    save_session(session, path)
    n += 1
"""


def test_kill_9_during_saves_never_leaves_a_broken_file(tmp_path):
    path = tmp_path / "s.json"
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.15 + 0.05 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        doc = json.loads(path.read_text())  # always a whole file: old or new, never half
        assert doc["format_version"] == SESSION_FORMAT_VERSION and len(doc["tracks"]) == 40
    leftovers = [p for p in tmp_path.iterdir() if p.name != "s.json"]
    assert len(leftovers) <= 8  # a kill may orphan one temp file per run; the session itself is intact
