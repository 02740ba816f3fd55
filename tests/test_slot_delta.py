"""A slot's delta: what one plug-in changes (its output minus its latency-aligned input), live as offline."""

from __future__ import annotations

import numpy as np
from conftest import SR, program_signal
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render

SILENCE = 10 ** (-120 / 20)


def _session(signal: np.ndarray | None, *slots: tuple[str, dict], delta: int | None = None) -> Session:
    """A track (from a file, or its input live) through ``slots``; slot ``delta`` plays its delta."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("vox", ArraySource(signal, SR) if signal is not None else None,
                              input=() if signal is not None else (0, 1))
    for name, values in slots:
        track.chain.add(name, **values)
    if delta is not None:
        track.chain[delta].delta = True
    return session


def _peak(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio)))


LIMITER = ("ZaMaximX2", {})  # 480 frames of lookahead; transparent on audio peaking below its threshold


def test_a_slot_that_changes_nothing_has_a_silent_delta_even_behind_a_latent_plug_in():
    signal = program_signal(2, 1.0)
    gain = ("Gain", {"gain_db": 0.0})
    assert _peak(render(_session(signal, gain, delta=0), tail=False).audio) < SILENCE
    behind = _session(signal, LIMITER, gain, delta=1)
    assert behind.snapshot().latency == 480
    assert _peak(render(behind, tail=False).audio) < SILENCE
    # The latent limiter itself, transparent here: its input is delayed by its 480 frames before the subtraction.
    assert _peak(render(_session(signal, LIMITER, delta=0), tail=False).audio) < SILENCE


def test_a_bypassed_slot_in_delta_is_silence():
    signal = program_signal(2, 1.0)
    session = _session(signal, ("ZamCompX2", {"threshold_db": -30, "ratio": 8.0}), delta=0)
    session.tracks[0].chain.set_bypass(0)
    assert _peak(render(session, tail=False).audio) < SILENCE


def test_a_latent_slots_delta_is_its_output_minus_its_aligned_input():
    signal = program_signal(2, 1.0)
    hard = ("ZaMaximX2", {"threshold_db": -12.0})
    delta = render(_session(signal, hard, delta=0), tail=False).audio
    out = render(_session(signal, hard), tail=False).audio
    n = min(delta.shape[1], out.shape[1], signal.shape[1])
    assert _peak(delta) > 0.05  # the limiter takes something away
    np.testing.assert_allclose(delta[:, :n], out[:, :n] - signal[:, :n], atol=1e-6)


def test_one_compressors_delta_is_what_it_takes_away_and_the_slots_after_it_hear_that():
    signal = program_signal(2, 1.0)
    comp = ("ZamCompX2", {"threshold_db": -30, "ratio": 8.0})
    eq = ("Gain", {"gain_db": -3.0})
    whole = render(_session(signal, eq, comp), tail=False).audio
    before = render(_session(signal, eq), tail=False).audio
    delta = render(_session(signal, eq, comp, delta=1), tail=False).audio
    np.testing.assert_allclose(delta, whole - before, atol=1e-6)
    louder = render(_session(signal, eq, comp, ("Gain", {"gain_db": 6.0}), delta=1), tail=False).audio
    np.testing.assert_allclose(louder, delta * 10 ** (6 / 20), atol=1e-5)


def test_live_slot_delta_under_jack_equals_the_offline_render(jack_server):
    from live_takes import assert_live_equals_offline

    def make(signal: np.ndarray | None = None) -> Session:
        return _session(signal, ("ZamCompX2", {"threshold_db": -24, "ratio": 6.0}), LIMITER, delta=0)

    signal = program_signal(2, 1.0)
    assert _peak(render(make(signal), tail=False).audio) > 0.05
    assert_live_equals_offline(jack_server, make, signal, latency=480)


def test_the_delta_switch_reaches_the_engine_and_outlives_a_structural_edit():
    from rackhost.live import commands as c
    from rackhost.live.process import SessionLoader, apply_command
    from rackhost.presets import session_to_dict
    from rackhost.presets.session_sync import resync, session_from_document

    signal = np.full((2, BLOCK * 20), 0.5, np.float32)
    session = _session(None, ("Gain", {"gain_db": -6.0}))  # an input track: the document needs no file
    engine = _started(session)
    assert apply_command(engine, c.SetSlotDelta(0, 0, True), None) == c.REBUILD
    engine.update()
    out = _run(engine, signal)
    assert abs(out[0, -1] - 0.5 * (10 ** (-6 / 20) - 1)) < 1e-6
    document = session_to_dict(session)
    assert "delta" not in str(document)  # a listening switch, not part of the session
    edited = _session(None, ("Gain", {"gain_db": -6.0}), ("Gain", {"gain_db": 0.0}))
    loader = SessionLoader(session_to_dict(edited), load=session_from_document, resync=resync)
    apply_command(engine, c.Sync(session_to_dict(edited)), loader)
    engine.update()
    assert [s.delta for s in engine.session.tracks[0].chain] == [True, False]
    assert abs(_run(engine, signal)[0, -1] - 0.5 * (10 ** (-6 / 20) - 1)) < 1e-6
