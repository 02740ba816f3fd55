"""The engine follows the GUI's session document, keeping the plug-in instances it already runs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, program_signal
from shared_engine import SharedEngine

from rackhost.chain import Session
from rackhost.live.commands import Bypass, Loop, Mix, Play, Quit, SetGain, SetPan, Sync
from rackhost.live.process import EngineProcess, SessionLoader
from rackhost.presets import load_session, session_to_dict
from rackhost.presets.session_sync import resync, session_from_document


def _session(wav_file) -> Session:
    session = Session(sample_rate=SR, block_size=256)
    drums = session.add_track("drums", wav_file(program_signal(2, 2.0), "drums.wav"))
    drums.chain.add("ZamCompX2", threshold_db=-20)
    drums.chain.add("Reverb", room_size=0.3)
    session.add_track("bass", wav_file(program_signal(1, 2.0, seed=2), "bass.wav")).chain.add("ZamEQ2")
    session.master.chain.add("Limiter")
    return session


@pytest.fixture
def session(wav_file):
    return _session(wav_file)


@pytest.fixture(scope="module")
def _shared(jack_server, tmp_path_factory):
    """One engine process on the session for the tests that only play and command it."""
    folder = tmp_path_factory.mktemp("sync")

    def write(audio, name):
        sf.write(folder / name, np.asarray(audio).T, SR, subtype="PCM_24")
        return folder / name

    document = session_to_dict(_session(write))
    shared = SharedEngine(lambda: EngineProcess(SessionLoader(document, load=session_from_document, resync=resync)),
                          document)
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def shared(_shared, request):
    """The shared engine; ``.ready()`` gives it stopped at frame 0 with the session as loaded (shared_engine.py),
    ``.document`` that session, to edit a copy of."""
    failed = request.session.testsfailed
    yield _shared
    _shared.after(request, failed)


def test_a_document_builds_the_same_session(session):
    copy = session_from_document(session_to_dict(session))
    assert [t.name for t in copy.tracks] == ["drums", "bass"]
    assert [s.name for s in copy.tracks[0].chain] == ["ZamCompX2", "Reverb"]
    assert copy.tracks[0].chain[0].plugin.get("threshold_db") == pytest.approx(-20)


def test_resync_reuses_running_instances_and_returns_only_changed_values(session):
    running = session_from_document(session_to_dict(session))
    comp, reverb = (slot.plugin for slot in running.tracks[0].chain)
    eq = running.tracks[1].chain[0].plugin
    # The GUI's edits: reorder, a new value, a new slot, a removed track, a bypass.
    session.tracks[0].chain.move(1, 0)
    session.tracks[0].chain[0].plugin.set("room_size", 0.8)
    session.tracks[0].chain.add("Gain", gain_db=-3)
    session.tracks[0].chain.set_bypass(1, True)
    session.remove_track("bass")
    synced, changes = resync(running, session_to_dict(session))
    slots = list(synced.tracks[0].chain)
    assert [s.name for s in slots] == ["Reverb", "ZamCompX2", "Gain"]
    assert slots[0].plugin is reverb and slots[1].plugin is comp  # kept, with their tails and state
    assert slots[1].bypass and not slots[0].bypass
    assert [(c.plugin, c.name, c.value) for c in changes] == [(reverb, "room_size", pytest.approx(0.8))]
    assert reverb.get("room_size") == pytest.approx(0.3)  # not set here: the audio thread's queue applies it
    assert len(synced.tracks) == 1 and eq not in [s.plugin for s in slots]
    assert synced.tracks[0].source is running.tracks[0].source  # the audio is not read again


def test_two_slots_of_one_plugin_each_keep_the_closest_instance(session):
    session.tracks[0].chain.add("ZamCompX2", threshold_db=-40)
    running = session_from_document(session_to_dict(session))
    first, second = running.tracks[0].chain[0].plugin, running.tracks[0].chain[2].plugin
    session.tracks[0].chain.move(2, 0)
    synced, changes = resync(running, session_to_dict(session))
    assert synced.tracks[0].chain[0].plugin is second and synced.tracks[0].chain[1].plugin is first
    assert changes == []


def _wait(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_engine_process_follows_synced_edits_while_playing(shared):
    engine = shared.ready()
    session = session_from_document(shared.document)
    engine.send(Play())
    _wait(lambda: engine.meters()[0, 0, 0] > 0 and engine.meters()[1, 0, 0] > 0, "both tracks to sound")
    session.tracks[1].mute = True
    session.add_track("vox", session.tracks[0].source)
    engine.send(Sync(session_to_dict(session)))
    _wait(lambda: engine.stats()["strips"] == 3, "the third track to appear")
    _wait(lambda: engine.meters()[2, 0, 0] > 0 and engine.meters()[1, 0, 0] == 0, "mute to land, vox to play")
    assert engine.poll() == [] and engine.alive  # xrun counts are the benchmarks' (bench/live.py, bench/soak.py)


def test_wet_dry_and_loop_commands_reach_the_engine_process(shared):
    engine = shared.ready()
    before = engine.stats()["callbacks"]
    engine.send(Mix(0, 1, 0.5))
    engine.send(Loop(0, SR // 4))
    engine.send(Play())
    _wait(lambda: engine.stats()["callbacks"] > before + SR / 256, "a second of audio")  # four times the loop
    assert engine.stats()["position"] < SR // 4 + 256
    assert [e for e in engine.poll() if "failed" in e] == []
    engine.send(Loop(None))
    _wait(lambda: engine.stats()["position"] > SR // 2, "the transport to run past the old loop")


def test_the_engine_loops_as_the_sessions_loop_range_says_from_its_start_and_after_a_resync(jack_server, session):
    """An engine of its own: the shared one loads its session before any test could set the loop."""
    from rackhost.chain.session import LoopRange

    session.loop = LoopRange(0.0, 0.25)  # a session saved with its loop on: it loops from the first play
    engine = EngineProcess(SessionLoader(session_to_dict(session), load=session_from_document, resync=resync))
    engine.start()
    try:
        engine.send(Play())
        _wait(lambda: engine.stats()["callbacks"] > SR / 256, "a second of audio")  # four times the loop
        assert engine.stats()["position"] < SR // 4 + 256
        session.loop = LoopRange(0.0, 0.25, on=False)  # undone, or switched off: the next resync says so
        engine.send(Sync(session_to_dict(session)))
        _wait(lambda: engine.stats()["position"] > SR // 2, "the transport to run past the old loop")
    finally:
        engine.stop()


def test_commands_waiting_in_the_pipe_are_applied_in_order_with_one_swap(session):
    """A fader dragged at the GUI's frame rate: every value lands, the last one wins, the gains are swapped once.

    Faders and pans need new gains only, never new chains; a structural command in the batch makes it one rebuild.
    """
    import multiprocessing as mp

    from rackhost.live import LiveEngine
    from rackhost.live.process import _apply_waiting

    engine = LiveEngine(session)
    engine.update()
    calls = []
    real_update, real_update_mix = engine.update, engine.update_mix
    engine.update = lambda: (calls.append("update"), real_update())[-1]
    engine.update_mix = lambda: (calls.append("update_mix"), real_update_mix())[-1]
    strips_before = engine._state.snapshot.tracks
    parent, child = mp.Pipe()
    for step in range(60):
        parent.send(SetGain(0, -30.0 + step * 0.5))
    parent.send(Bypass(0, 7, True))  # no slot 7: reported, the rest still applies
    parent.send(SetPan(1, -0.5))
    assert _apply_waiting(engine, child, SessionLoader("unused", load=load_session))
    assert not child.poll(0)  # all of them taken in one go
    assert calls == ["update_mix"]
    assert engine._state.snapshot.tracks == strips_before  # the same strips and chains, running on
    assert engine.session.tracks[0].gain_db == pytest.approx(-0.5)
    assert engine.session.tracks[1].pan == pytest.approx(-0.5)
    # A stereo track at centre: unity both sides (a balance), times the fader's -0.5 dB.
    np.testing.assert_allclose(engine._state.snapshot.gains[0].ravel(), [10 ** (-0.5 / 20)] * 2, rtol=1e-6)
    kind, message = parent.recv()
    assert kind == "event" and message.startswith("bypass failed: track 'drums' has no slot 7")
    parent.send(SetGain(0, -6.0))
    parent.send(Bypass(0, 0, True))  # structural: the batch rebuilds once, faders included
    calls.clear()
    assert _apply_waiting(engine, child, SessionLoader("unused", load=load_session))
    assert calls == ["update"]
    np.testing.assert_allclose(engine._state.snapshot.gains[0].ravel(), [10 ** (-6.0 / 20)] * 2, rtol=1e-6)
    parent.send(Quit())
    assert not _apply_waiting(engine, child, SessionLoader("unused", load=load_session))
