"""Gain reduction a plug-in reports itself: a keyed slot's minihost twin passes ZamCompX2's VST3 output
parameter back (pedalboard does not), so the spectrum view's slot readout shows the real figure there.
Hosts minihost: runs in the Makefile's separate pytest process (MINIHOST_TESTS)."""

from __future__ import annotations

import numpy as np

from conftest import SR
from rackhost.chain import ArraySource, Session
from test_live_callback import _run, _started
from test_sidechain_live import DUCK, _signal


def _ducked_master() -> Session:
    """Music and a voice in bursts; the master's ZamCompX2 is keyed from the voice and pushed hard."""
    signal = _signal(1.5)
    session = Session(sample_rate=SR, block_size=128)
    session.add_track("music", ArraySource(signal[:1], SR))
    session.add_track("voice", ArraySource(signal[1:], SR), gain_db=-3.0)
    session.master.chain.add("ZamCompX2", **DUCK)
    session.master.chain.add("Gain", gain_db=-2.0)
    session.edit.set_key(session, session.master.chain[0], "voice")
    return session


def test_a_keyed_zamcompx2_reports_its_own_gain_reduction_following_the_key():
    engine = _started(_ducked_master())
    engine.watch_spectrum(None)
    seen = []
    for _ in range(24):  # 1.2 s in 50 ms steps: the voice's bursts come and go three times a second
        _run(engine, np.zeros((2, 2400), np.float32))
        seen.append({r.slots: r for r in engine.stage_reductions()})
    keyed = [s[(0,)] for s in seen]
    assert all(r.reported and r.label == f"GR {r.db:.1f} dB" for r in keyed)
    assert max(r.db for r in keyed) > 15.0  # ducking hard while the voice speaks
    assert min(r.db for r in keyed) < 2.0  # and letting go between its bursts
    gain = [s[(1,)] for s in seen]  # the plain Gain after it: no report, an estimate from levels
    assert not any(r.reported for r in gain) and all(abs(r.db - 2.0) < 0.05 for r in gain)
    assert gain[0].label == "GR ~2.0 dB est."
