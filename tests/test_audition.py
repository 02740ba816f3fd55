"""Matched bypass-compare and delta of a track's chain, run through the live callback and the offline render."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, program_signal
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.audition import Audition

SECONDS = 3.0


def _session(signal: np.ndarray, *slots: tuple[str, dict]) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("mix", ArraySource(signal, SR))
    for name, values in slots:
        track.chain.add(name, **values)
    return session


def _lufs(audio: np.ndarray) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(np.asarray(audio, np.float64).T)


CHAINS = {
    "louder": (("ZamCompX2", {"threshold_db": -24, "ratio": 4.0}), ("Gain", {"gain_db": 12.0})),
    "quieter": (("ZamCompX2", {"threshold_db": -24, "ratio": 8.0}),),
}


@pytest.mark.parametrize("chain", CHAINS)
def test_a_matched_compare_plays_chain_and_input_within_0_2_lu(chain):
    LOUDER = CHAINS[chain]
    signal = program_signal(2, SECONDS)
    session = _session(signal, *LOUDER)
    engine = _started(session)
    audition = engine.measure_audition(0)
    heard = {}
    for side in ("chain", "input"):
        session = _session(signal, *LOUDER)
        session.tracks[0].audition = Audition(side=side, offsets=audition.offsets)
        heard[side] = _run(_started(session), np.zeros((2, signal.shape[1]), np.float32))
    unmatched_session = _session(signal, *LOUDER)
    unmatched = _run(_started(unmatched_session), np.zeros((2, signal.shape[1]), np.float32))
    assert 3.0 <= abs(_lufs(unmatched) - _lufs(heard["input"])) <= 10.0  # the chain changes loudness by 3-10 LU
    assert abs(_lufs(heard["chain"]) - _lufs(heard["input"])) < 0.2
    assert audition.label() == f"A {audition.offset_db('A'):+.1f} dB"


def test_the_switch_is_latency_aligned_an_impulse_lands_on_the_same_sample():
    impulse = np.zeros((2, BLOCK * 40), np.float32)
    impulse[:, 1000] = 0.5
    peaks = {}
    for side in ("chain", "input"):
        session = _session(impulse, ("ZaMaximX2", {}))
        session.tracks[0].audition = Audition(side=side, match=False)
        assert session.snapshot().latency > 0
        out = _run(_started(session), np.zeros_like(impulse))
        peaks[side] = int(np.argmax(np.abs(out[0])))
    assert peaks["chain"] == peaks["input"]


def test_the_delta_of_a_bypassed_chain_is_silence_below_minus_120_dbfs():
    signal = program_signal(2, 1.0)
    session = _session(signal, ("ZamCompX2", {"threshold_db": -30}), ("ZaMaximX2", {}))
    for slot in list(session.tracks[0].chain.plugin_slots()):
        session.tracks[0].chain.set_bypass(slot)
    session.tracks[0].audition = Audition(delta=True)
    out = _run(_started(session), np.zeros_like(signal))
    assert np.max(np.abs(out)) < 10 ** (-120 / 20)


def test_the_delta_of_a_compressor_is_what_it_takes_away_and_offline_equals_live():
    signal = program_signal(2, 1.0)
    comp = ("ZamCompX2", {"threshold_db": -30, "ratio": 8.0})
    outs = {}
    for name, audition in (("chain", Audition(match=False)), ("input", Audition(side="input")),
                           ("delta", Audition(delta=True))):
        session = _session(signal, comp)
        session.tracks[0].audition = audition
        outs[name] = render(session, tail=False).audio
    np.testing.assert_allclose(outs["delta"], outs["chain"] - outs["input"], atol=1e-6)
    assert _lufs(outs["delta"]) > -40  # the compressor takes something away
    live_session = _session(signal, comp)
    live_session.tracks[0].audition = Audition(delta=True)
    live = _run(_started(live_session), np.zeros_like(signal))
    latency = live_session.snapshot().latency
    n = min(live.shape[1] - latency, outs["delta"].shape[1])
    np.testing.assert_array_equal(live[:, latency : latency + n], outs["delta"][:, :n])


def test_a_switch_mid_play_is_a_crossfade_not_a_step():
    signal = np.full((2, BLOCK * 40), 0.5, np.float32)
    session = _session(signal, ("Gain", {"gain_db": -12.0}))
    engine = _started(session)
    first = _run(engine, np.zeros((2, BLOCK * 10), np.float32))
    engine.set_audition(0, Audition(side="input"))
    second = _run(engine, np.zeros((2, BLOCK * 10), np.float32))
    out = np.concatenate([first, second], axis=1)[0]
    assert np.max(np.abs(np.diff(out))) < 0.01  # a step would jump by ~0.37 in one sample
    assert abs(out[-1] - 0.5) < 1e-6


def _delta_session(signal: np.ndarray | None = None) -> Session:
    """An input track (or the same signal as a file) through a compressor and a latent limiter, heard as delta."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("vox", ArraySource(signal, SR) if signal is not None else None,
                              input=() if signal is not None else (0, 1))
    track.chain.add("ZamCompX2", threshold_db=-24, ratio=6)
    track.chain.add("ZaMaximX2", threshold_db=-3)
    track.audition = Audition(delta=True)
    return session


def test_live_delta_under_jack_equals_the_offline_render(jack_server):
    from live_takes import assert_live_equals_offline

    signal = program_signal(2, 1.0)
    assert _lufs(render(_delta_session(signal), tail=False).audio) > -40  # what the chain takes away is audible
    assert_live_equals_offline(jack_server, _delta_session, signal, latency=480)


def test_set_audition_through_the_engine_process_handler_switches_to_the_input():
    from rackhost.live import commands as c
    from rackhost.live.process import apply_command

    signal = np.full((2, BLOCK * 40), 0.5, np.float32)
    session = _session(signal, ("Gain", {"gain_db": -12.0}))
    engine = _started(session)
    assert apply_command(engine, c.SetAudition(0, "input", True, False, (-1.0, 0.0)), None) == c.NOTHING
    assert session.tracks[0].audition == Audition("input", True, False, (-1.0, 0.0))
    out = _run(engine, np.zeros((2, BLOCK * 10), np.float32))
    assert abs(out[0, -1] - 0.5) < 1e-6


def test_a_matched_ab_plays_both_settings_within_0_2_lu_of_each_other():
    from rackhost.chain.compare import switch

    signal = program_signal(2, SECONDS)

    def session_ab(active: str) -> Session:
        session = _session(signal, *CHAINS["louder"])
        track = session.tracks[0]
        switch(track)  # B starts as a copy of A: make it the quieter chain
        track.chain = _session(signal, *CHAINS["quieter"]).tracks[0].chain
        if active == "A":
            switch(track)
        return session

    measured = _started(session_ab("B")).measure_audition(0)
    assert abs(measured.offsets[0] - measured.offsets[1]) > 6  # A and B differ by several LU unmatched
    heard = {}
    for active in "AB":
        session = session_ab(active)
        assert session.tracks[0].ab.active == active
        session.tracks[0].audition = measured
        heard[active] = _run(_started(session), np.zeros((2, signal.shape[1]), np.float32))
    assert abs(_lufs(heard["A"]) - _lufs(heard["B"])) < 0.2
    assert measured.label("B") == f"B {measured.offsets[1]:+.1f} dB"


def test_matching_over_a_loop_range_past_the_file_names_the_range_the_track_and_the_fix(wav_file):
    from rackhost.chain.audition_measure import measure_audition
    from rackhost.chain.matching import MatchError

    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("drums", wav_file(program_signal(2, 2.0), "drums.wav"))
    track.chain.add("Gain", gain_db=6.0)
    past = (int(3.0 * SR), int(4.0 * SR))
    with pytest.raises(MatchError) as err:
        measure_audition(session, track, past)
    assert str(err.value) == ("the loop range 3.0-4.0 s lies past the end of track 'drums' (2.0 s): set the loop "
                              "inside it, or turn the loop off to match over the whole file")
    # A range that starts inside the file measures what of it there is.
    across = measure_audition(session, track, (int(1.0 * SR), int(4.0 * SR)))
    assert abs(across.offsets[0] + 6.0) < 0.1
