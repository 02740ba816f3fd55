"""The partner process (rackhost/live/partner.py): file tracks rendered in a second process, under a real JACK server.

The null tests hold it to the offline render sample for sample, so a partner out of step with the engine (a
wrong revision, a command it missed, a block from the wrong position) fails them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, file_loader, program_signal
from jack_harness import align, jack_device
from live_takes import BLOCK, capture_playback, clean_take, xruns
from shared_engine import SharedEngine

from rackhost.chain import render
from rackhost.chain.session import Session
from rackhost.live import LiveEngine
from rackhost.live import commands as c
from rackhost.live.process import PUBLISH_SECONDS, EngineProcess, SessionLoader, partner_starter
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.session_sync import resync

TRACKS = 12


def _mix(folder, wav_file, tracks: int = TRACKS) -> str:
    """A session file of ``tracks`` file tracks (mono and stereo), each through its own chain, and a master limiter."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    for k in range(tracks):
        audio = program_signal(1 + k % 2, 1.0, seed=20 + k)
        track = session.add_track(f"t{k}", wav_file(audio, f"t{k}.wav"))
        track.gain_db = -16.0 - k
        track.pan = -0.7 + 1.4 * k / (tracks - 1)
        track.chain.add("HighpassFilter", cutoff_frequency_hz=50.0 + 20 * k)
        track.chain.add("Compressor", threshold_db=-12.0 - k, ratio=2.0 + k % 3)
        if k % 3 == 0:
            track.chain.add("ZamCompX2", threshold_db=-20.0 - k)  # a real VST3 in both processes
        if k % 4 == 1:
            track.chain.add("Reverb", room_size=0.4).set_mix(0.25)  # state that carries from block to block
    session.master.chain.add("Limiter", threshold_db=-6.0)
    path = folder / "mix.json"
    save_session(session, path)
    return str(path)


@pytest.fixture(scope="module")
def _shared_mix(jack_server, tmp_path_factory):
    """One engine process (and its partner) on the mix for the tests that command or kill one: each start loads the
    twelve tracks twice."""
    folder = tmp_path_factory.mktemp("mix")

    def write(audio, name):
        sf.write(folder / name, np.asarray(audio).T, SR, subtype="PCM_24")
        return folder / name

    path = _mix(folder, write)
    loader = SessionLoader(path, load=load_session, resync=resync)  # resync: each test gets the mix as loaded
    shared = SharedEngine(lambda: EngineProcess(loader, device=jack_device(), block_size=BLOCK, input_channels=0,
                                                partner=True), session_to_dict(load_session(path)))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def mix_engine(_shared_mix, request):
    """The shared engine on the mix; ``.ready()`` gives it stopped at frame 0 as loaded (see shared_engine.py)."""
    failed = request.session.testsfailed
    yield _shared_mix
    _shared_mix.after(request, failed)


def test_file_tracks_rendered_by_the_partner_process_null_against_the_offline_render(jack_server, tmp_path,
                                                                                      wav_file):
    path = _mix(tmp_path, wav_file)
    frames = SR + 60 * BLOCK

    def take():
        engine = LiveEngine(load_session(path), device=jack_device(), input_channels=0,
                        partner=partner_starter(file_loader(path)))
        engine.start()
        try:
            assert "partner process" in engine.spread_state, engine.spread_state
            partner = engine._state.partner
            assert partner is not None and len(partner.lanes) == TRACKS // 2  # half of 12 (three fewer from 16 up)
            captured = capture_playback(jack_server, engine.play, frames)
            stats = engine.stats()
            assert stats.fault is None and stats.running
            xruns[0] += engine._partner.late  # a block the partner missed is a dropout: take it again
        finally:
            engine.close()
        return captured

    captured = clean_take(take)
    offline = render(load_session(path), tail=False)
    _, aligned = align(offline.audio, captured)
    np.testing.assert_allclose(aligned, offline.audio, atol=1e-6)


def _partner_lanes(engine: EngineProcess) -> str:
    return next((e for e in engine.events if "partner" in e), "")


def test_commands_sent_while_playing_reach_the_tracks_the_partner_renders(jack_server, mix_engine):
    """A parameter (no rebuild) and a new slot (a rebuild) on every track: the output goes silent either way,
    which it could not if the partner's half of the tracks missed the command."""

    def silence_by(commands):
        engine = mix_engine.ready()  # as loaded: the first batch's slots are gone before the second
        assert "file tracks shared with a partner process" in _partner_lanes(engine), engine.events

        def during():
            time.sleep(0.3)
            for command in commands:
                engine.send(command)

        captured = capture_playback(jack_server, lambda: engine.send(c.Play()), 2 * SR, during)
        time.sleep(0.2)
        failures = [e for e in engine.poll() if "failed" in e or "partner" in e and "stopped" in e]
        assert engine.stats()["alive"] == 1.0 and not failures, failures
        return captured

    # Each track's first slot: HighpassFilter has no gain; a Gain at -inf added at the end of every chain.
    added = [c.AddSlot(k, "Gain", None, {"gain_db": -120.0}) for k in range(TRACKS)]
    # A lost block (an xrun on a busy machine) changes neither what is asserted: no clean take is needed.
    captured = silence_by(added)
    tail = captured[:, -SR // 2 :]
    assert np.abs(tail).max() < 1e-4  # every track, the partner's too, took the new slot
    assert np.abs(captured[:, : SR // 10]).max() > 1e-3  # and it played before

    set_low = [c.SetParameter(k, 1, "threshold_db", -60.0) for k in range(TRACKS)] + \
              [c.SetGain(k, -120.0) for k in range(TRACKS)]
    captured = silence_by(set_low)
    assert np.abs(captured[:, -SR // 2 :]).max() < 1e-4


def test_a_partner_that_dies_hands_its_tracks_back_and_the_engine_plays_on(jack_server, tmp_path, wav_file):
    import os
    import signal

    path = _mix(tmp_path, wav_file)
    engine = LiveEngine(load_session(path), device=jack_device(), input_channels=0,
                        partner=partner_starter(file_loader(path)))
    engine.start()
    try:
        assert engine._state.partner is not None
        engine.play()
        time.sleep(0.3)
        os.kill(engine._partner._process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while engine._state.partner is not None and time.monotonic() < deadline:
            engine.poll()
            time.sleep(0.05)
        assert engine._state.partner is None
        assert any("partner process stopped" in e for e in engine.events), engine.events
        before = engine.stats().callbacks
        time.sleep(0.5)
        stats = engine.stats()
        assert stats.running and stats.fault is None and stats.callbacks > before
        # Every track renders here again, its chain reset, shared with the second audio thread.
        assert engine._state.numbers == tuple(range(TRACKS))
        assert "second audio thread" in engine.spread_state, engine.spread_state
        engine.update()
        assert engine._state.share is not None
    finally:
        engine.close()


def test_blocks_the_partner_did_not_render_in_time_are_counted_apart_among_the_xruns(jack_server, tmp_path, wav_file):
    import os
    import signal

    path = _mix(tmp_path, wav_file)
    engine = LiveEngine(load_session(path), device=jack_device(), input_channels=0,
                        partner=partner_starter(file_loader(path)))
    engine.start()
    try:
        assert engine._state.partner is not None
        engine.play()
        time.sleep(0.2)
        before = engine.stats()
        partner = engine._partner._process.pid
        os.kill(partner, signal.SIGSTOP)  # alive but never done: every block waits for it, then goes on without
        try:
            deadline = time.monotonic() + 10
            while engine.stats().partner_late < before.partner_late + 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            os.kill(partner, signal.SIGCONT)
        time.sleep(0.2)  # back in time: no late block is between its two counts (the link's, then the engine's)
        after = engine.stats()
        late = after.partner_late - before.partner_late
        assert late >= 3
        assert after.xruns - before.xruns >= late  # each is an xrun too: its tracks were silent for that block
    finally:
        engine.close()


@pytest.mark.parametrize("tracks", [4, 7])
def test_a_small_session_keeps_every_track_in_the_engine(jack_server, tmp_path, wav_file, tracks):
    path = _mix(tmp_path, wav_file, tracks)
    engine = LiveEngine(load_session(path), device=jack_device(), input_channels=0,
                        partner=partner_starter(file_loader(path)))
    engine.start()
    try:
        assert engine._state.partner is None and engine._state.numbers == tuple(range(tracks))
    finally:
        engine.close()


def test_rackhost_live_hands_half_the_file_tracks_to_a_partner_and_no_partner_keeps_them(jack_server, tmp_path,
                                                                                         wav_file):
    import os
    import subprocess
    import sys

    from conftest import PROJECT_VST3_DIR

    path = _mix(tmp_path, wav_file)
    env = {**os.environ, **jack_server.env, "RACKHOST_VST3_PATH": str(PROJECT_VST3_DIR)}
    for extra, said in (([], "file tracks shared with a partner process"),
                        (["--no-partner"], "tracks shared with a second audio thread")):
        run = subprocess.run([sys.executable, "-m", "rackhost.cli", "live", "--session", path, "--duration", "2",
                              *extra], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        assert f"tracks: {said}" in run.stdout, run.stdout
        assert "partner process stopped" not in run.stdout


def _partners_of(pid: int) -> list[int]:
    """The partner processes whose parent is ``pid`` (from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"rackhost.live.partner" in cmdline:
            found.append(int(proc.name))
    return found


def test_a_killed_engine_process_takes_its_partner_with_it(mix_engine):
    import os
    import signal

    engine = mix_engine.ready()
    try:
        pid = engine.pid
        partners = _partners_of(pid)
        assert len(partners) == 1, engine.events
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{partners[0]}").exists() \
                and "Z" not in Path(f"/proc/{partners[0]}/stat").read_text().rsplit(")", 1)[1].split()[0]:
            time.sleep(0.1)
        gone = not Path(f"/proc/{partners[0]}").exists() or \
            "Z" in Path(f"/proc/{partners[0]}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert gone, "the partner outlived its engine process"
    finally:
        mix_engine.close()  # killed: reaped here, and a later test would get a new one


def test_stats_say_where_the_callback_time_goes_own_tracks_then_the_partners_then_the_mix(jack_server, mix_engine):
    """own_p50 (the callback's own tracks done) <= tracks_p50 (the partner's rows in too) <= load_p50 (the whole
    callback), per block and so in their medians; bench/live.py's `cost_phases_rounds` reads these."""
    engine = mix_engine.ready()
    engine.send(c.Play())
    deadline = time.monotonic() + 10
    while engine.stats()["callbacks"] < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2 * PUBLISH_SECONDS)  # the stats the engine process publishes next
    s = engine.stats()
    assert s["callbacks"] >= 400
    assert 0.0 < s["own_p50"] <= s["tracks_p50"] <= s["load_p50"], s
    # the partner renders half the tracks meanwhile: the callback is not all tracks and nothing else
    assert s["tracks_p50"] < s["load_p50"], s
    # and says how long it took to wake and to render (both within the span the callback waited for it)
    assert 0.0 < s["partner_wake_p50"] and 0.0 < s["partner_render_p50"] < s["tracks_p50"], str(s)
