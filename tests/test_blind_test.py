"""Blind tests (ABX and blind A/B): the score's p-value, the hidden draw, and X playing the hidden side."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from conftest import SR, program_signal
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.audition import Audition
from rackhost.chain.blind import BlindTest, BlindTestError, audition_for, binomial_tail
from rackhost.chain.chain import Chain
from rackhost.chain.compare import switch

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(seeds, st.lists(st.sampled_from("AB"), min_size=1, max_size=40))
def test_the_abx_p_value_is_the_one_sided_binomial_tail_of_the_right_answers(seed, answers):
    test = BlindTest("abx", trials=len(answers), seed=seed)
    right = 0
    for answer in answers:
        hidden = test.side_for("X")
        right += test.answer(answer).correct
        assert (answer == hidden) == test.answered[-1].correct
    assert test.score == right
    expected = binomtest(right, len(answers), 0.5, alternative="greater").pvalue
    assert test.p_value == pytest.approx(expected, rel=1e-9)
    assert test.finished


@settings(max_examples=40, deadline=None)
@given(seeds, st.lists(st.sampled_from("12"), min_size=1, max_size=30))
def test_a_blind_ab_p_value_is_two_sided_on_the_side_chosen_more(seed, answers):
    test = BlindTest("ab", trials=len(answers), seed=seed)
    for answer in answers:
        test.answer(answer)
    counts = test.preferences()
    assert counts["A"] + counts["B"] == len(answers)
    assert test.score == max(counts.values())
    expected = binomtest(counts["A"], len(answers), 0.5, alternative="two-sided").pvalue
    assert test.p_value == pytest.approx(expected, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_the_hidden_side_is_drawn_fairly_and_the_same_seed_repeats_it(seed):
    def sequence(test: BlindTest) -> list[str]:
        hidden = []
        for _ in range(test.trials):
            hidden.append(test.side_for("X"))
            test.answer("A")
        return hidden

    first = sequence(BlindTest("abx", trials=4000, seed=seed))
    assert first == sequence(BlindTest("abx", trials=4000, seed=seed))
    share = first.count("A") / len(first)
    assert 0.46 < share < 0.54  # 5 standard deviations of a fair coin over 4000 draws
    # No pattern to learn: as often the same as the last trial as not.
    repeats = sum(a == b for a, b in itertools.pairwise(first)) / (len(first) - 1)
    assert 0.46 < repeats < 0.54


def test_nothing_tells_which_side_was_hidden_before_the_last_answer():
    test = BlindTest("ab", trials=3, seed=7)
    test.answer("1")
    with pytest.raises(BlindTestError, match="when the test ends"):
        test.reveal()
    assert "A" not in test.summary() and "B" not in test.summary()  # who was 1 stays hidden
    test.answer("2")
    test.answer("1")
    assert [t.hidden for t in test.reveal()] == [t.hidden for t in test.answered]
    with pytest.raises(BlindTestError, match="reset"):
        test.answer("1")
    test.reset(seed=7)
    assert test.answered == [] and test.trial == 1


def test_perfect_and_chance_scores_read_as_a_listener_expects():
    assert binomial_tail(10, 10) == pytest.approx(1 / 1024)
    assert binomial_tail(9, 10) == pytest.approx(11 / 1024)
    assert binomial_tail(0, 10) == 1.0
    with pytest.raises(ValueError):
        BlindTest("xab")


# -- X plays the hidden side ------------------------------------------------------------------------

OFFSETS = (-3.0, 4.0)  # A louder than its input by 3 dB, B quieter by 4: matched, both play at the input's level


def _ab_session(signal: np.ndarray | None = None, a: tuple = (("Gain", {"gain_db": -6.0}),),
                b: tuple = (("ZamCompX2", {"threshold_db": -24, "ratio": 6.0}), ("ZaMaximX2", {}))) -> Session:
    """A track (from a file, or its input live) whose A setting is ``a`` and whose B is ``b`` (by default a
    quieter gain, and a compressor with a latent limiter: B is the slower, so A waits for it)."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("mix", ArraySource(signal, SR) if signal is not None else None,
                              input=() if signal is not None else (0, 1))
    for name, values in a:
        track.chain.add(name, **values)
    switch(track)  # B starts as a copy of A; make it differ
    track.chain = Chain()
    for name, values in b:
        track.chain.add(name, **values)
    switch(track)  # A plays
    track.audition = Audition(offsets=OFFSETS)
    return session


def _side(session: Session, test: BlindTest, button: str, versus: str = "setting") -> Session:
    track = session.tracks[0]
    slot = 0 if versus == "slot" else None  # the B setting's compressor, bypassed in front of its limiter
    if slot is not None:
        switch(track)
        track.audition = replace(track.audition, other_offset=-2.0)
    track.audition = audition_for(track.audition, versus, test.side_for(button), track.ab.active, slot)
    return session


@pytest.mark.parametrize("versus", ["setting", "input", "slot"])
def test_x_renders_as_the_hidden_side_matched(versus):
    signal = program_signal(2, 1.0)
    test = BlindTest("abx", trials=6, seed=11)
    hidden = []
    for _ in range(test.trials):
        heard = {b: render(_side(_ab_session(signal), test, b, versus), tail=False).audio for b in "ABX"}
        assert not np.allclose(heard["A"], heard["B"], atol=1e-3)
        np.testing.assert_array_equal(heard["X"], heard[test.side_for("X")])
        hidden.append(test.side_for("X"))
        test.answer("A")
    assert set(hidden) == {"A", "B"}  # the seed draws both within six trials


def test_a_blind_switch_mid_play_is_a_crossfade_and_lands_on_the_hidden_side():
    signal = np.full((2, BLOCK * 30), 0.5, np.float32)
    session = _ab_session(signal, a=(("Gain", {"gain_db": -12.0}),), b=(("Gain", {"gain_db": -6.0}),))
    test = BlindTest("abx", trials=1, seed=3)
    track = session.tracks[0]
    track.audition = replace_match(audition_for(track.audition, "setting", "A", "A"))
    engine = _started(session)
    first = _run(engine, signal[:, : BLOCK * 10])
    engine.set_audition(0, replace_match(audition_for(track.audition, "setting", test.side_for("X"), "A")))
    second = _run(engine, signal[:, : BLOCK * 20])
    out = np.concatenate([first, second], axis=1)[0]
    assert np.max(np.abs(np.diff(out))) < 0.01  # a step from -12 to -6 dB would jump by 0.125 in one sample
    expected = 0.5 * 10 ** ((-12.0 if test.side_for("X") == "A" else -6.0) / 20)
    assert abs(out[-1] - expected) < 1e-6


def replace_match(audition: Audition) -> Audition:
    return replace(audition, match=False)


@pytest.mark.parametrize("versus", ["setting", "slot"])
def test_x_under_jack_plays_the_hidden_side_sample_for_sample(jack_server, versus):
    from live_takes import assert_x_plays_the_hidden_side

    signal = program_signal(2, 1.0)
    matched = {side: render(_side(_ab_session(signal), BlindTest(seed=0), side, versus), tail=False).audio
               for side in "AB"}
    assert_x_plays_the_hidden_side(jack_server, lambda side: _side(_ab_session(), BlindTest(seed=0), side, versus),
                                   matched, signal)


def test_a_blind_side_travels_to_the_engine_process_as_a_typed_command():
    from rackhost.live import commands as c
    from rackhost.live.process import apply_command

    signal = np.full((2, BLOCK * 20), 0.5, np.float32)
    session = _ab_session(signal, b=(("Gain", {"gain_db": -6.0}),("Gain", {"gain_db": -6.0})))
    engine = _started(session)
    audition = audition_for(session.tracks[0].audition, "setting", "B", "A")
    command = c.SetAudition(0, audition.side, False, False, audition.offsets, audition.runs_other)
    apply_command(engine, command, None)
    assert session.tracks[0].audition.side == "other"
    out = _run(engine, signal)
    assert abs(out[0, -1] - 0.5 * 10 ** (-12.0 / 20)) < 1e-6  # B's gain, run beside A and switched to
    with pytest.raises(ValueError, match="runs_other"):
        c.SetAudition(0, "other")


@pytest.mark.parametrize("slot", [0, 1])
def test_a_slot_compare_plays_the_chain_with_that_slot_bypassed_matched_and_aligned(slot):
    # Slot 1 is the latent limiter: bypassed, its copy of the chain is 480 frames early and waits for the chain.
    signal = program_signal(2, 1.0)
    chain = (("ZamCompX2", {"threshold_db": -24, "ratio": 6.0}), ("ZaMaximX2", {"threshold_db": -6.0}))

    def session() -> Session:
        made = _ab_session(signal, a=chain, b=(("Gain", {}),))
        made.tracks[0].audition = Audition(offsets=(1.5, 0.0), other_offset=-2.5)
        return made

    heard = {}
    for side in "AB":
        made = session()
        track = made.tracks[0]
        track.audition = audition_for(track.audition, "slot", side, "A", slot)
        heard[side] = render(made, tail=False).audio
    plain, bypassed = session(), session()
    bypassed.tracks[0].chain.set_bypass(slot, True)
    for made in (plain, bypassed):
        made.tracks[0].audition = Audition(match=False)
    np.testing.assert_allclose(heard["A"], render(plain, tail=False).audio * 10 ** (1.5 / 20), atol=1e-6)
    expected = render(bypassed, tail=False).audio * 10 ** (-2.5 / 20)
    np.testing.assert_allclose(heard["B"], expected, atol=1e-6)
    assert np.max(np.abs(heard["A"] - heard["B"])) > 1e-2
