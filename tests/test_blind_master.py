"""Blind tests on the master and on a bus: X plays the hidden side of the master chain's A/B, of the chain
against the mix feeding it, or of the chain with one slot bypassed, latency-aligned and loudness-matched; live,
as a typed command, and under JACK."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, program_signal
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.audition import Audition
from rackhost.chain.audition_measure import measure_audition
from rackhost.chain.blind import BlindTest, BlindTestError, blind_audition
from rackhost.chain.chain import Chain
from rackhost.chain.compare import switch

# The master's A setting: ZaMaximX2 (480 frames late) driven hard, then a gain; B: the built-in Limiter (no latency)
# and a louder gain. A waits for nothing, B waits 480 frames for A: every switch lands on the same frame.
MASTER_A = (("ZaMaximX2", {"threshold_db": -12.0}), ("Gain", {"gain_db": -2.0}))
MASTER_B = (("Limiter", {"threshold_db": -14.0}), ("Gain", {"gain_db": 3.0}))
OFFSETS = (2.5, -4.0)
BYPASSED_OFFSET = -1.5


def _chain(slots: tuple) -> Chain:
    chain = Chain()
    for name, values in slots:
        chain.add(name, **values)
    return chain


TRACK_GAINS = (-3.0, -6.0)


def _mastered(signal: np.ndarray | None, a: tuple = MASTER_A, b: tuple | None = MASTER_B, roll: int = 4000) -> Session:
    """Two tracks (files, the second ``roll`` frames later, or both the live input) summed into a master whose A
    setting is ``a`` and whose B is ``b``."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    for n, gain in enumerate(TRACK_GAINS):
        source = ArraySource(np.roll(signal, roll * n, axis=1), SR) if signal is not None else None
        track = session.add_track(f"t{n}", source, input=() if signal is not None else (0, 1))
        track.chain.add("Gain", gain_db=gain)
    master = session.master
    master.chain = _chain(a)
    if b is not None:
        switch(master)
        master.chain = _chain(b)
        switch(master)  # A plays
    master.audition = Audition(offsets=OFFSETS, other_offset=BYPASSED_OFFSET)
    return session


def _playing(session: Session, test: BlindTest, button: str, versus: str, slot: int | None = None) -> np.ndarray:
    master = session.master
    master.audition = blind_audition(master, versus, test.side_for(button), slot)
    return render(session, tail=False).audio


def _expected(signal: np.ndarray, versus: str, side: str, slot: int | None) -> np.ndarray:
    """What a side is, rendered without any blind test: the chain it names played alone, times its offset."""
    session = _mastered(signal)
    master = session.master
    if side == "A":
        gain = OFFSETS[0]
    elif versus == "setting":
        switch(master)
        gain = OFFSETS[1]
    elif versus == "slot":
        master.chain.set_bypass(slot, True)
        gain = BYPASSED_OFFSET
    else:  # the input: the mix as it reaches the master, unprocessed and unmatched
        master.chain = Chain()
        gain = 0.0
    master.audition = Audition(match=False)
    return render(session, tail=False).audio * np.float32(10 ** (gain / 20))


@pytest.mark.parametrize("versus, slot", [("setting", None), ("input", None), ("slot", 0), ("slot", 1)])
def test_x_on_the_master_renders_as_the_hidden_side_matched_and_aligned(versus, slot):
    signal = program_signal(2, 1.0)
    sides = {side: _expected(signal, versus, side, slot) for side in "AB"}
    assert np.max(np.abs(sides["A"] - sides["B"])) > 1e-2  # two sides that differ, or the test proves nothing
    test = BlindTest("abx", trials=6, seed=11)
    hidden = []
    for _ in range(test.trials):
        heard = {b: _playing(_mastered(signal), test, b, versus, slot) for b in "ABX"}
        for side in "AB":  # each side as played alone: same frames (the 480-frame limiter waited for), same gain
            np.testing.assert_allclose(heard[side], sides[side], atol=1e-6)
        np.testing.assert_array_equal(heard["X"], heard[test.side_for("X")])
        hidden.append(test.side_for("X"))
        test.answer("A")
    assert set(hidden) == {"A", "B"}  # the seed draws both within six trials


def test_a_blind_test_on_the_master_plays_both_sides_at_the_mixs_loudness():
    signal = program_signal(2, 3.0)
    session = _mastered(signal)
    master = session.master
    master.audition = blind_audition(master, "slot", "A", 0)  # the compared slot is measured too
    master.audition = measure_audition(session, master)
    measured = master.audition
    meter = pyloudnorm.Meter(SR)
    session.master.chain = Chain()
    session.master.audition = Audition(match=False)
    mix = meter.integrated_loudness(render(session, tail=False).audio.T.astype(np.float64))
    for versus, slot in (("setting", None), ("input", None), ("slot", 0)):
        loudness = []
        for side in "AB":
            played = _mastered(signal)
            played.master.audition = blind_audition(played.master, versus, side, slot)
            played.master.audition = replace(played.master.audition, offsets=measured.offsets,
                                             other_offset=measured.other_offset)
            loudness.append(meter.integrated_loudness(render(played, tail=False).audio.T.astype(np.float64)))
        assert abs(loudness[0] - mix) < 0.2 and abs(loudness[1] - mix) < 0.2, (versus, loudness, mix)
    unmatched = _mastered(signal)
    unmatched.master.audition = Audition(match=False)
    switch(unmatched.master)  # B unmatched is far louder than the mix: matching had work to do
    assert meter.integrated_loudness(render(unmatched, tail=False).audio.T.astype(np.float64)) - mix > 3.0


def test_a_bus_blind_test_against_a_bypassed_latent_slot_plays_that_side_aligned():
    signal = program_signal(2, 1.0)

    def session() -> Session:
        made = Session(sample_rate=SR, block_size=BLOCK)
        kick = made.add_track("kick", ArraySource(signal, SR))
        snare = made.add_track("snare", ArraySource(np.roll(signal, 9000, axis=1), SR))
        snare.chain.add("ZaMaximX2")  # a latent track into the bus too: the bus's input waits for it
        bus = made.add_bus("drum bus")
        bus.chain = _chain((("ZamCompX2", {"threshold_db": -24.0, "ratio": 6.0}), ("ZaMaximX2", {})))
        kick.output = snare.output = "drum bus"  # all the mix is the bus: its matching gain is the mix's
        bus.audition = Audition(offsets=(1.0, 1.0), other_offset=-2.0)
        return made

    heard = {}
    for side in "AB":
        made = session()
        made.busses[0].audition = blind_audition(made.busses[0], "slot", side, 1)
        heard[side] = render(made, tail=False).audio
    plain, bypassed = session(), session()
    bypassed.busses[0].chain.set_bypass(1, True)
    for made in (plain, bypassed):
        made.busses[0].audition = Audition(match=False)
    np.testing.assert_allclose(heard["A"], render(plain, tail=False).audio * np.float32(10 ** (1.0 / 20)), atol=1e-6)
    np.testing.assert_allclose(heard["B"], render(bypassed, tail=False).audio * np.float32(10 ** (-2.0 / 20)),
                               atol=1e-6)
    assert np.max(np.abs(heard["A"] - heard["B"])) > 1e-2


def test_a_strip_with_no_such_side_is_refused_with_what_to_do():
    session = _mastered(None, b=None)
    with pytest.raises(BlindTestError, match="the master has no B setting yet.*switch"):
        blind_audition(session.master, "setting", "A")
    with pytest.raises(BlindTestError, match="no slot 3 .* has 2"):
        blind_audition(session.master, "slot", "B", 2)
    bus = session.add_bus("verb")
    with pytest.raises(BlindTestError, match="bus 'verb' has no B setting"):
        blind_audition(bus, "setting", "B")
    assert blind_audition(bus, "input", "B").side == "input"


def test_a_master_blind_switch_travels_to_the_engine_as_a_typed_command_and_crossfades():
    from rackhost.live import commands as c
    from rackhost.live.process import apply_command

    signal = np.full((2, BLOCK * 40), 0.25, np.float32)
    session = _mastered(None, a=(("Gain", {"gain_db": -12.0}),), b=(("Gain", {"gain_db": -6.0}),))
    session.master.audition = Audition(match=False)
    engine = _started(session)
    outs = [_run(engine, signal[:, : BLOCK * 10])]
    test = BlindTest("abx", trials=3, seed=2)
    # Opening the test starts B running beside the playing A (a rebuild, A still playing), as the panel does.
    audition = blind_audition(session.master, "setting", "A")
    apply_command(engine, c.SetAudition(None, audition.side, False, False, audition.offsets, audition.runs_other),
                  None)
    outs.append(_run(engine, signal[:, : BLOCK * 10]))
    hidden = []
    for _ in range(test.trials):
        audition = blind_audition(session.master, "setting", test.side_for("X"))
        apply_command(engine, c.SetAudition(None, audition.side, False, False, audition.offsets,
                                            audition.runs_other), None)
        out = _run(engine, signal[:, : BLOCK * 10])
        mix = 0.25 * sum(10 ** (gain / 20) for gain in TRACK_GAINS)
        expected = mix * 10 ** ((-12.0 if test.side_for("X") == "A" else -6.0) / 20)
        assert abs(out[0, -1] - expected) < 1e-6  # the two tracks summed, then the hidden side's gain
        outs.append(out)
        hidden.append(test.side_for("X"))
        test.answer("B")
    assert set(hidden) == {"A", "B"} and session.master.audition.runs_other
    played = np.concatenate(outs, axis=1)[0]
    assert np.max(np.abs(np.diff(played))) < 0.01  # every switch a crossfade, never a step of 6 dB in one sample


@pytest.mark.parametrize("versus", ["setting", "slot"])
def test_x_on_the_master_under_jack_plays_the_hidden_side_sample_for_sample(jack_server, versus):
    from live_takes import assert_x_plays_the_hidden_side

    signal = program_signal(2, 1.0)
    slot = 0 if versus == "slot" else None
    matched = {}
    for side in "AB":
        offline = _mastered(signal, roll=0)  # live, both tracks hear the one input
        offline.master.audition = blind_audition(offline.master, versus, side, slot)
        matched[side] = render(offline, tail=False).audio

    def live(side: str) -> Session:
        session = _mastered(None)
        session.master.audition = blind_audition(session.master, versus, side, slot)
        return session

    assert_x_plays_the_hidden_side(jack_server, live, matched, signal)

