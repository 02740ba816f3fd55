"""Auditioning a bus and the master as a track is auditioned: bypass-compare at matched loudness, A/B, a slot
compared bypassed, delta; offline, block by block through the live callback, and under JACK."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.chain.audition import Audition
from rackhost.chain.audition_measure import measure_audition
from rackhost.chain.compare import switch
from rackhost.chain.matching import MatchError
from rackhost.live import commands as c
from rackhost.live.commands import BusRow
from rackhost.live.process import apply_command

LOUDER = (("ZamCompX2", {"threshold_db": -24, "ratio": 4.0}), ("Gain", {"gain_db": 18.0}))
QUIETER = (("ZamCompX2", {"threshold_db": -24, "ratio": 8.0}),)
LATENT = (("ZamCompX2", {"threshold_db": -30, "ratio": 8.0}), ("ZaMaximX2", {"threshold_db": -3.0}))


def _lufs(audio: np.ndarray) -> float:
    return pyloudnorm.Meter(SR).integrated_loudness(np.asarray(audio, np.float64).T)


def _session(strip: str, slots=LATENT, seconds: float = 2.0, block: int = BLOCK, live: bool = False) -> Session:
    """Two tracks into a bus (``strip`` "bus") or straight into the master ("master"), whose chain is
    ``slots``; ``live``: the first track is a live input instead of a file."""
    session = Session(sample_rate=SR, block_size=block)
    output = "bus" if strip == "bus" else None
    session.add_track("vox", None if live else ArraySource(program_signal(2, seconds, seed=1), SR),
                      input=(0, 1) if live else (), output=output)
    session.add_track("keys", ArraySource(program_signal(2, seconds, seed=2), SR), gain_db=-6.0, output=output)
    owner = session.add_bus("bus") if strip == "bus" else session.master
    for name, values in slots:
        owner.chain.add(name, **values)
    return session


def _strip(session: Session, strip: str):
    return session.busses[0] if strip == "bus" else session.master


def _heard(strip: str, audition: Audition, slots=LATENT, seconds: float = 2.0, block: int = BLOCK) -> np.ndarray:
    session = _session(strip, slots, seconds, block)
    _strip(session, strip).audition = audition
    return render(session, tail=False).audio


@pytest.mark.parametrize("strip", ["master", "bus"])
def test_bypass_compare_at_matched_loudness_plays_the_chain_within_0_2_lu_of_its_input(strip):
    session = _session(strip, LOUDER, seconds=3.0)
    measured = measure_audition(session, _strip(session, strip))
    heard = {side: _heard(strip, replace(measured, side=side), LOUDER, 3.0) for side in ("chain", "input")}
    unmatched = _heard(strip, Audition(match=False), LOUDER, 3.0)
    assert 3.0 <= _lufs(unmatched) - _lufs(heard["input"]) <= 10.0  # the chain is 3-10 LU louder
    assert abs(_lufs(heard["chain"]) - _lufs(heard["input"])) < 0.2
    assert measured.label() == f"A {measured.offsets[0]:+.1f} dB" and measured.offsets[0] < -3.0
    # The input side is what feeds the strip: the same session without the chain, sample for sample.
    bare = render(_session(strip, (), seconds=3.0), tail=False).audio
    np.testing.assert_allclose(heard["input"], bare, atol=1e-6)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strip=st.sampled_from(["master", "bus"]), block=st.sampled_from([32, 64, 128, 256, 512, 1024]),
       frames=st.integers(SR // 2, 3 * SR // 2))
def test_the_input_side_is_latency_aligned_with_the_chain_and_the_delta_is_their_difference(strip, block, frames):
    seconds = frames / SR
    outs = {name: _heard(strip, audition, LATENT, seconds, block) for name, audition in (
        ("chain", Audition(match=False)), ("input", Audition(side="input")), ("delta", Audition(delta=True)))}
    assert _session(strip).snapshot().latency == 480  # ZaMaximX2's lookahead, in front of the strip's output
    np.testing.assert_allclose(outs["input"], render(_session(strip, (), seconds, block), tail=False).audio,
                               atol=1e-6)
    np.testing.assert_allclose(outs["delta"], outs["chain"] - outs["input"], atol=1e-6)
    assert _lufs(outs["delta"]) > -40  # the compressor and the limiter take something away


@pytest.mark.parametrize("strip", ["master", "bus"])
def test_the_delta_of_a_bypassed_chain_is_silence_below_minus_120_dbfs(strip):
    session = _session(strip)
    owner = _strip(session, strip)
    for slot in list(owner.chain.plugin_slots()):
        owner.chain.set_bypass(slot)
    owner.audition = Audition(delta=True)
    assert np.max(np.abs(render(session, tail=False).audio)) < 10 ** (-120 / 20)


@pytest.mark.parametrize("strip", ["master", "bus"])
def test_a_matched_ab_plays_both_settings_within_0_2_lu_of_each_other(strip):
    def session_ab(active: str) -> Session:
        session = _session(strip, LOUDER, seconds=3.0)
        owner = _strip(session, strip)
        switch(owner)  # B starts as a copy of A: make it the quieter chain
        owner.chain = _strip(_session(strip, QUIETER), strip).chain
        if active == "A":
            switch(owner)
        return session

    session = session_ab("B")
    measured = measure_audition(session, _strip(session, strip))
    assert abs(measured.offsets[0] - measured.offsets[1]) > 6  # A and B differ by several LU unmatched
    heard = {}
    for active in "AB":
        session = session_ab(active)
        _strip(session, strip).audition = measured
        heard[active] = render(session, tail=False).audio
    assert abs(_lufs(heard["A"]) - _lufs(heard["B"])) < 0.2
    assert measured.label("B") == f"B {measured.offsets[1]:+.1f} dB"


@pytest.mark.parametrize("strip", ["master", "bus"])
def test_a_slot_compared_bypassed_plays_the_chain_without_it_aligned_and_matched(strip):
    # The limiter (slot 2, 480 frames late) compared bypassed: its copy of the chain runs beside it.
    compared = _heard(strip, Audition(side="other", match=False, runs_other=True, compare_slot=1))
    without = _session(strip)
    _strip(without, strip).chain.set_bypass(1)
    np.testing.assert_allclose(compared, render(without, tail=False).audio, atol=1e-6)
    session = _session(strip)
    owner = _strip(session, strip)
    owner.audition = Audition(runs_other=True, compare_slot=1)
    measured = measure_audition(session, owner)
    assert measured.other_offset != measured.offsets[0]  # the chain and the chain without the limiter differ
    matched = _heard(strip, replace(measured, side="other"))
    assert abs(_lufs(matched) - _lufs(_heard(strip, Audition(side="input")))) < 0.2


def test_a_span_measures_the_loop_range_only():
    session = _session("master", LOUDER, seconds=3.0)
    quiet = session.tracks[0].source.audio(SR)
    quiet[:, :SR] *= 0.05  # the first second quiet: a compressor's gain there differs from the rest
    session.tracks[1].mute = True
    whole = measure_audition(session, session.master).offsets[0]
    looped = measure_audition(session, session.master, (0, SR)).offsets[0]
    assert abs(whole - looped) > 1.0


def _both(block: int = BLOCK, seconds: float = 1.0, live: bool = False) -> Session:
    """A bus heard as its delta into a master compared bypassed (its input, matched): audition on both."""
    session = _session("bus", LATENT, seconds, block, live)
    session.master.chain.add("ZamCompX2", threshold_db=-20, ratio=3.0)
    session.master.chain.add("Gain", gain_db=6.0)
    session.busses[0].audition = Audition(delta=True)
    session.master.audition = Audition(side="chain", offsets=(-4.5, 0.0))
    return session


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([32, 64, 128, 256, 512]), blocks=st.integers(40, 160))
def test_the_live_callback_block_by_block_equals_the_offline_render(block, blocks):
    seconds = block * blocks / SR
    live = _run(_started(_both(block, seconds, live=True)), program_signal(2, seconds, seed=1), block)
    offline = _both(block, seconds)
    rendered = render(offline, tail=False).audio
    latency = offline.snapshot().latency
    assert latency == 480
    n = min(live.shape[1] - latency, rendered.shape[1])
    np.testing.assert_array_equal(live[:, latency : latency + n], rendered[:, :n])


@pytest.mark.parametrize("where", [None, BusRow(0)], ids=["master", "bus"])
def test_a_switch_mid_play_through_the_engine_command_is_a_crossfade_not_a_step(where):
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("dc", ArraySource(np.full((2, BLOCK * 40), 0.5, np.float32), SR),
                      output="bus" if where is not None else None)
    owner = session.add_bus("bus") if where is not None else session.master
    owner.chain.add("Gain", gain_db=-12.0)
    engine = _started(session)
    first = _run(engine, np.zeros((2, BLOCK * 10), np.float32), BLOCK)
    assert apply_command(engine, c.SetAudition(where, "input", True, False, (-1.0, 0.0)), None) == c.NOTHING
    assert owner.audition == Audition("input", True, False, (-1.0, 0.0))
    second = _run(engine, np.zeros((2, BLOCK * 10), np.float32), BLOCK)
    out = np.concatenate([first, second], axis=1)[0]
    assert abs(out[0] - 0.5 * 10 ** (-12 / 20)) < 1e-6  # the chain first
    assert np.max(np.abs(np.diff(out))) < 0.01  # a step would jump by ~0.37 in one sample
    assert abs(out[-1] - 0.5) < 1e-6  # then the input


def test_the_engine_measures_a_bus_and_the_master_over_its_loop_as_the_offline_call_does():
    session = _session("bus", LOUDER, seconds=3.0)
    session.master.chain.add("Gain", gain_db=-5.0)
    engine = _started(session)
    engine.set_loop(0, 2 * SR)
    for where, owner in ((BusRow(0), session.busses[0]), (None, session.master)):
        measured = engine.measure_audition(where)
        assert owner.audition == measured
        assert measured.offsets == measure_audition(session, owner, (0, 2 * SR)).offsets
    assert abs(session.master.audition.offsets[0] - 5.0) < 0.01  # a gain of -5 dB is matched by +5 dB


def test_measuring_never_runs_the_playing_plugins():
    """A measurement copies the plug-ins without running them: the engine plays on as if nothing happened
    (a silence flush through the playing compressors and limiter would change what follows)."""
    signal = program_signal(2, 1.0, seed=1)
    outs = []
    for measure in (False, True):
        session = _both(live=True)
        session.tracks[1].chain.add("ZamCompX2", threshold_db=-30.0, ratio=6.0)
        # Unmatched (and the bus heard as its delta): the offsets measured do not change what plays.
        session.tracks[1].audition = Audition(match=False)
        session.master.audition = Audition(match=False)
        engine = _started(session)
        first = _run(engine, signal[:, : SR // 2], BLOCK)
        if measure:
            for where in (1, BusRow(0), None):
                assert engine.measure_audition(where).offsets != (0.0, 0.0)
            with pytest.raises(MatchError, match="track 'vox' has no audio file"):
                engine.measure_audition(0)
        outs.append(np.concatenate([first, _run(engine, signal[:, SR // 2 :], BLOCK)], axis=1))
    np.testing.assert_array_equal(outs[1], outs[0])


def test_a_sync_keeps_what_a_bus_and_the_master_are_auditioned_as():
    from rackhost.live.process import SessionLoader
    from rackhost.presets import session_to_dict
    from rackhost.presets.session_sync import resync, session_from_document

    session = _session("bus", LATENT)
    engine = _started(session)
    for where in (BusRow(0), None):
        apply_command(engine, c.SetAudition(where, "input", True, False, (-2.0, 1.0)), None)
    edited = session_from_document(session_to_dict(session))
    edited.remove_track("keys")
    apply_command(engine, c.Sync(session_to_dict(edited)), SessionLoader("unused", load=session_from_document,
                                                                         resync=resync))
    assert engine.session is not session and [t.name for t in engine.session.tracks] == ["vox"]
    for owner in (engine.session.busses[0], engine.session.master):
        assert owner.audition == Audition("input", True, False, (-2.0, 1.0))


def test_live_bus_and_master_audition_under_jack_equal_the_offline_render(jack_server):
    from live_takes import assert_live_equals_offline

    signal = program_signal(2, 1.0)

    def make(audio: np.ndarray | None = None) -> Session:
        session = _both(live=audio is None)
        session.remove_track("keys")  # the input alone: a file track would start with the transport, not the take
        if audio is not None:
            session.tracks[0].source = ArraySource(audio, SR)
        return session

    assert _lufs(render(make(signal), tail=False).audio) > -40
    assert_live_equals_offline(jack_server, make, signal, latency=480)


def test_a_master_fed_by_live_inputs_alone_is_refused_with_the_reason():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("mic", None, input=(0,))
    session.master.chain.add("Gain", gain_db=3.0)
    with pytest.raises(MatchError, match="the master: no audio file plays into it, so there is nothing to measure"):
        measure_audition(session, session.master)


def test_an_engine_process_with_a_partner_plays_a_bus_and_the_master_compared_bypassed(jack_server, tmp_path,
                                                                                       wav_file):
    """SetAudition on a bus and on the master goes to the engine process and on to its partner (which renders
    half of the tracks and holds the same session): both silenced by their chains, they are heard once both
    play their input, and the partner is still there."""
    import time

    from conftest import file_loader
    from jack_harness import jack_device
    from live_takes import capture_playback

    from rackhost.live.process import EngineProcess
    from rackhost.presets import save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    for k in range(12):
        track = session.add_track(f"t{k}", wav_file(program_signal(2, 2.0, seed=30 + k), f"t{k}.wav"), output="bus",
                                  gain_db=-20.0)
        track.chain.add("Compressor", threshold_db=-12.0)
    session.add_bus("bus").chain.add("Gain", gain_db=-120.0)
    session.master.chain.add("Gain", gain_db=-120.0)
    path = tmp_path / "partnered.json"
    save_session(session, path)
    engine = EngineProcess(file_loader(path), device=jack_device(), block_size=BLOCK, input_channels=0,
                           partner=True)
    engine.start()
    try:
        assert "file tracks shared with a partner process" in next((e for e in engine.events if "partner" in e), "")

        def during():
            time.sleep(0.5)
            engine.send(c.SetAudition(BusRow(0), "input", False))
            engine.send(c.SetAudition(None, "input", False))

        # A lost block (an xrun on a busy machine) changes nothing asserted: no clean take is needed.
        captured = capture_playback(jack_server, lambda: engine.send(c.Play()), 2 * SR, during)
        time.sleep(0.2)
        problems = [e for e in engine.poll() if "failed" in e or "partner" in e and "stopped" in e]
        assert engine.stats()["alive"] == 1.0 and not problems, problems
    finally:
        engine.stop()
    assert np.abs(captured[:, : SR // 10]).max() < 1e-4  # both chains silence it
    assert np.abs(captured[:, -SR // 2 :]).max() > 1e-3  # both play their input: the tracks are heard


def test_a_fader_move_keeps_the_master_and_a_bus_on_their_input():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("dc", ArraySource(np.full((2, BLOCK * 40), 0.5, np.float32), SR), output="bus")
    for owner in (session.add_bus("bus"), session.master):
        owner.chain.add("Gain", gain_db=-12.0)
        owner.audition = Audition(side="input")
    engine = _started(session)
    _run(engine, np.zeros((2, BLOCK * 4), np.float32))
    for where in (None, BusRow(0)):
        assert apply_command(engine, c.SetGain(where, -6.0), None) == c.REMIX
    engine.update_mix()  # new gains, the same strips: their audition stages with them
    out = _run(engine, np.zeros((2, BLOCK * 4), np.float32))
    assert np.allclose(out[:, -BLOCK:], 0.5 * 10 ** (-12 / 20), atol=1e-6)  # both faders, neither chain
