"""The live engine's audio callback, called directly with numpy blocks (the JACK tests run it for real)."""

from __future__ import annotations

import types

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, program_signal
from rackhost.chain import ArraySource, Plugin, Session, render
from rackhost.live import LiveEngine

BLOCK = 128
OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)


def _session(input_track: bool = True) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    live = session.add_track("guitar", None, input=(0, 1))
    live.chain.add("ZamCompX2", threshold_db=-20)
    live.chain.add("Reverb", room_size=0.3)
    backing = session.add_track("backing", ArraySource(program_signal(1, 0.5, seed=5), SR), pan=0.3)
    backing.chain.add("ZamComp")
    session.master.chain.add("ZaMaximX2")
    return session


def _run(engine: LiveEngine, signal: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Feed ``signal`` block by block, as the device would (padded to whole blocks)."""
    signal = np.pad(signal, ((0, 0), (0, -signal.shape[1] % block)))
    out = []
    for i in range(0, signal.shape[1], block):
        outdata = np.zeros((block, 2), np.float32)
        engine._callback(np.ascontiguousarray(signal[:, i : i + block].T), outdata, block, None, OK)
        out.append(outdata.T.copy())
    return np.concatenate(out, axis=1)


def _started(session: Session) -> LiveEngine:
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    engine.play()
    return engine


def test_live_blocks_equal_the_offline_render_of_the_same_session():
    signal = program_signal(2, 0.5)[:, : BLOCK * 180]
    live = _run(_started(_session()), signal)
    offline_session = _session()
    offline_session.tracks[0].input = ()
    offline_session.tracks[0].source = ArraySource(signal, SR)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])


def test_parameter_changes_land_at_the_next_block():
    session = _session()
    engine = _started(session)
    comp = session.tracks[0].chain[0].plugin
    engine.set_parameter(comp, "threshold_db", -35.0)
    assert comp.get("threshold_db") == pytest.approx(-20.0)  # not touched from the control thread
    _run(engine, program_signal(2, BLOCK / SR))
    assert comp.get("threshold_db") == pytest.approx(-35.0)


def test_structural_changes_swap_in_between_blocks():
    session = _session()
    engine = _started(session)
    _run(engine, program_signal(2, 0.05))
    session.tracks[0].chain.add("Gain", gain_db=-120.0)
    session.tracks[1].mute = True
    engine.update()
    out = _run(engine, program_signal(2, 0.1))
    assert engine.stats().fault is None
    assert np.max(np.abs(out[:, -BLOCK:])) < 1e-4  # the new state is what plays


def test_a_slot_that_raises_is_bypassed_and_reported_and_the_stream_goes_on():
    session = _session()
    bad = session.tracks[0].chain.add(Plugin.create("ZamComp"))  # mono-only, on a stereo track
    engine = _started(session)
    bad.plugin.mode = "direct"  # as if the plug-in had lied about its layout: it raises every block
    engine.update()
    _run(engine, program_signal(2, 0.05))
    events = engine.poll()
    assert bad.bypass
    assert any("ZamComp raised ValueError" in e and "bypassed from now on" in e for e in events)
    out = _run(engine, program_signal(2, 0.1))
    assert np.max(np.abs(out)) > 0.01 and not engine.poll()


def test_recording_writes_dry_input_and_wet_chain_output_frame_exact(tmp_path):
    session = _session()
    session.tracks[0].armed = True
    engine = _started(session)
    signal = program_signal(2, 1.0)[:, : BLOCK * 300]
    takes = engine.record(tmp_path)
    _run(engine, signal)
    engine.stop()
    take = takes[0]
    dry, rate = sf.read(take.dry_path, dtype="float32", always_2d=True)
    assert rate == SR and sf.info(take.dry_path).subtype == "PCM_24"
    assert dry.shape == (signal.shape[1], 2)
    np.testing.assert_allclose(dry.T, signal, atol=2 ** -23)  # 24-bit
    chain_only = Session(sample_rate=SR, block_size=BLOCK)
    chain_only.add_track("guitar", ArraySource(signal, SR), session.tracks[0].chain)
    wet_expected = render(chain_only, tail=False).audio
    wet, _ = sf.read(take.wet_path, dtype="float32", always_2d=True)
    assert wet.shape[0] == signal.shape[1] - session.tracks[0].chain.latency(SR, session.block_size)
    np.testing.assert_allclose(wet.T, wet_expected[:, : wet.shape[0]], atol=2 ** -23)
    # A second take never overwrites the first.
    session.tracks[0].armed = True
    second = engine.record(tmp_path)[0]
    engine.stop()
    assert second.dry_path != take.dry_path and take.dry_path.exists()


def test_the_transport_loops_between_two_points():
    session = _session()
    engine = _started(session)
    engine.set_loop(0, 4 * BLOCK)
    _run(engine, program_signal(2, 10 * BLOCK / SR))
    assert engine.stats().position == 2 * BLOCK  # 10 blocks in a 4-block loop


def test_master_loudness_meters_read_a_reference_sine():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("in", None, input=(0, 1))
    engine = _started(session)
    t = np.arange(4 * SR) / SR
    sine = (np.sin(2 * np.pi * 997 * t) * 10 ** (-20 / 20)).astype(np.float32)
    _run(engine, np.vstack([sine, sine]))
    meters = engine.loudness()
    assert meters["momentary_lufs"] == pytest.approx(-20.0, abs=0.2)
    assert meters["short_term_lufs"] == pytest.approx(-20.0, abs=0.2)
    assert meters["integrated_lufs"] == pytest.approx(-20.0, abs=0.2)
    assert meters["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.2)
    assert meters["true_peak_max_dbtp"] == pytest.approx(-20.0, abs=0.2)
    # Play from stop starts a new integrated measurement; a pause does not.
    engine.pause()
    engine.play()
    _run(engine, np.vstack([sine, sine])[:, : SR // 2] * np.float32(0.1))  # 20 dB down
    assert engine.loudness()["integrated_lufs"] > -20.5
    engine.stop()
    engine.play()
    _run(engine, np.vstack([sine, sine])[:, :SR] * np.float32(0.1))
    meters = engine.loudness()
    assert meters["integrated_lufs"] == pytest.approx(-40.0, abs=0.3)
    assert meters["true_peak_max_dbtp"] == pytest.approx(-40.0, abs=0.2)


def test_streamed_loudness_equals_the_offline_measurement():
    from rackhost.live.meters import LoudnessMeter
    from rackhost.chain.loudness import measure, windowed_loudness

    audio = program_signal(2, 8.0, seed=3)
    meter = LoudnessMeter(SR)
    for start, end in zip(range(0, audio.shape[1], 1999), range(1999, audio.shape[1] + 1999, 1999)):
        meter.feed(audio[:, start:end])  # chunks of any length, as the control thread finds them
    offline = measure(audio, SR)
    assert meter.integrated == pytest.approx(offline.integrated_lufs, abs=1e-6)
    assert 20 * np.log10(meter.true_peak_max) == pytest.approx(offline.true_peak_dbtp, abs=1e-6)
    whole = audio.shape[1] // (SR // 10) * (SR // 10)  # the meter's windows end on 100 ms steps
    momentary, short_term = windowed_loudness(audio[:, :whole], SR, (0.4, 3.0))
    assert meter.momentary == pytest.approx(momentary, abs=1e-6)
    assert meter.short_term == pytest.approx(short_term, abs=1e-6)


def test_meters_hold_peaks_and_latch_clips():
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("in", None, input=(0, 1))
    engine = _started(session)
    loud = np.zeros((2, 4 * BLOCK), np.float32)
    loud[:, 10] = 1.0  # one full-scale sample
    _run(engine, loud)
    first = engine.meters()
    assert first.shape == (2, 2, 4)
    assert first[0, 0, 3] == 1.0 and first[-1, 0, 3] == 1.0  # clip latched on the track and the master
    _run(engine, np.full((2, 4 * BLOCK), 0.1, np.float32))
    later = engine.meters()
    assert later[0, 0, 0] == pytest.approx(0.1) and later[0, 0, 2] == pytest.approx(1.0)  # peak held
    assert later[0, 0, 3] == 1.0
    engine.reset_clips()
    assert engine.meters()[0, 0, 3] == 0.0


def test_a_click_on_one_strips_clip_light_lets_that_one_go_and_no_other():
    from rackhost.live.commands import BusRow, ResetClips
    from rackhost.live.process import apply_command

    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("in", None, input=(0, 1), output="drums")
    session.add_bus("drums")
    engine = _started(session)
    loud = np.zeros((2, 4 * BLOCK), np.float32)
    loud[:, 10] = 1.0
    _run(engine, loud)
    assert list(engine.meters()[:, 0, 3]) == [1.0, 1.0, 1.0]  # the track, the bus, the master
    apply_command(engine, ResetClips(BusRow(0)))
    assert list(engine.meters()[:, 0, 3]) == [1.0, 0.0, 1.0]
    apply_command(engine, ResetClips(None))
    apply_command(engine, ResetClips(0))
    assert not engine.meters()[:, :, 3].any()


def test_an_input_not_monitored_is_recorded_but_silent_in_the_mix(tmp_path):
    session = _session()
    session.tracks[1].mute = True  # only the live input could reach the master
    session.tracks[0].armed = True
    session.tracks[0].monitor = False
    engine = _started(session)
    signal = program_signal(2, 0.5)[:, : BLOCK * 100]
    takes = engine.record(tmp_path)
    out = _run(engine, signal)
    engine.stop()
    assert not np.any(out)  # nothing heard ...
    wet, _ = sf.read(takes[0].wet_path, dtype="float32", always_2d=True)
    assert np.abs(wet).max() > 0.05  # ... yet the chain ran and was recorded
    session.tracks[0].monitor = True
    engine.update()
    assert np.abs(_run(engine, signal)).max() > 0.05


def test_soloing_another_track_mid_take_keeps_recording_the_armed_track(tmp_path):
    # Before: a solo dropped the other tracks from the audio state, and the take
    # (addressed by its position there) went on recording the soloed track's audio.
    session = _session()
    session.master.chain.remove(0)  # no master limiter: its memory of the guitar would blur the comparison
    session.tracks[0].armed = True
    engine = _started(session)
    signal = program_signal(2, 1.0)[:, : BLOCK * 200]
    takes = engine.record(tmp_path)
    _run(engine, signal[:, : BLOCK * 100])
    session.tracks[1].solo = True  # the backing track alone in the speakers
    engine.update_mix()
    out = _run(engine, signal[:, BLOCK * 100 :])
    engine.stop()
    assert engine.poll() == [] and engine.stats().fault is None
    dry, _ = sf.read(takes[0].dry_path, dtype="float32", always_2d=True)
    assert dry.shape == (signal.shape[1], 2)
    np.testing.assert_allclose(dry.T, signal, atol=2 ** -23)  # the guitar, all through the take
    alone = _session()
    alone.master.chain.remove(0)
    alone.tracks[0].mute = True  # what the solo leaves: the backing track alone
    backing = render(alone, tail=False).audio  # latency trimmed: live frame g is render frame g - latency
    latency = alone.snapshot().latency
    heard = out[:, latency : backing.shape[1] - BLOCK * 100 + latency]
    np.testing.assert_allclose(heard, backing[:, BLOCK * 100 :], atol=1e-6)
    assert np.abs(heard).max() > 0.05


def test_a_muted_armed_track_is_recorded_whole(tmp_path):
    session = _session()
    session.tracks[0].armed = True
    session.tracks[0].mute = True
    engine = _started(session)
    signal = program_signal(2, 0.5)[:, : BLOCK * 100]
    takes = engine.record(tmp_path)
    _run(engine, signal)
    engine.stop()
    dry, _ = sf.read(takes[0].dry_path, dtype="float32", always_2d=True)
    wet, _ = sf.read(takes[0].wet_path, dtype="float32", always_2d=True)
    assert dry.shape == (signal.shape[1], 2)
    np.testing.assert_allclose(dry.T, signal, atol=2 ** -23)
    assert np.abs(wet).max() > 0.05


def test_muting_the_slowest_track_does_not_move_the_others_in_time():
    # Delay compensation follows every track, heard or not: a mute is a gain, never a jump.
    session = _session()
    before = session.snapshot()
    session.tracks[0].mute = True  # the guitar: ZamCompX2 + Reverb, the longest chain
    after = session.snapshot()
    assert after.latency == before.latency
    assert [s.compensation for s in after.tracks] == [s.compensation for s in before.tracks]
    assert after.audible == (False, True) and not after.gains[0].any()


def _widening_session(source: np.ndarray | None = None, keep_mono: bool = False) -> Session:
    """A mono input widened by MVerb, then a mono-only compressor (dual mono) and a latent limiter on it."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    if source is None:
        vox = session.add_track("vox", None, input=(0,), pan=-0.4, keep_mono=keep_mono)
    else:
        vox = session.add_track("vox", ArraySource(source, SR), pan=-0.4, keep_mono=keep_mono)
    vox.chain.add("Gain", gain_db=-3)
    vox.chain.add("MVerb")
    vox.chain.add("ZamComp", threshold_db=-24)
    vox.chain.add("ZaMaximX2", threshold_db=-6).set_mix(0.5)  # latent, with a delayed (stereo) dry path
    session.add_track("backing", ArraySource(program_signal(1, 0.5, seed=5), SR), pan=0.3)
    return session


@pytest.mark.parametrize("keep_mono", [False, True])
def test_a_widening_mono_track_live_equals_its_offline_render(keep_mono):
    signal = program_signal(1, 0.5)[:, : BLOCK * 150]
    session = _widening_session(keep_mono=keep_mono)
    engine = _started(session)
    assert [s.width for s in engine._state.snapshot.tracks] == [1 if keep_mono else 2, 1]
    live = _run(engine, np.concatenate((signal, signal)))  # the device's first input channel is the vox
    offline_session = _widening_session(signal, keep_mono)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
    assert engine._state.snapshot.tracks[0].processed.shape[0] == (1 if keep_mono else 2)


def test_recording_a_widened_mono_input_writes_a_mono_dry_and_a_stereo_wet_take(tmp_path):
    session = _widening_session()
    session.tracks[0].armed = True
    engine = _started(session)
    signal = program_signal(1, 0.5)[:, : BLOCK * 150]
    takes = engine.record(tmp_path)
    _run(engine, np.concatenate((signal, signal)))
    engine.stop()
    assert engine.stats().fault is None
    dry, _ = sf.read(takes[0].dry_path, dtype="float32", always_2d=True)
    wet, _ = sf.read(takes[0].wet_path, dtype="float32", always_2d=True)
    assert dry.shape == (signal.shape[1], 1) and wet.shape[1] == 2
    chain_only = Session(sample_rate=SR, block_size=BLOCK)
    chain_only.add_track("vox", ArraySource(signal, SR), session.tracks[0].chain)
    wet_expected = render(chain_only, tail=False).audio
    np.testing.assert_allclose(wet.T, wet_expected[:, : wet.shape[0]], atol=2 ** -23)


def _clicks(frames: int, every: int, offset: int) -> np.ndarray:
    out = np.zeros((1, frames), np.float32)
    out[0, offset::every] = 0.5
    return out


@pytest.mark.parametrize("state", ["muted", "others soloed", "one other soloed", "all heard"])
def test_a_muted_or_unsoloed_latent_track_still_sets_the_others_delay(state):
    # The slow track (ZaMaximX2: 480 samples) is silenced by a mute or a solo elsewhere; the other tracks
    # must still come out 480 samples late, as when it is heard, or muting it would move them in time.
    frames = BLOCK * 60
    session = Session(sample_rate=SR, block_size=BLOCK)
    slow = session.add_track("slow", ArraySource(_clicks(frames, 997, 11), SR))
    slow.chain.add("ZaMaximX2", threshold_db=-1)
    plain = [session.add_track(f"plain{k}", ArraySource(_clicks(frames, 1000 + 200 * k, 50 + 7 * k), SR),
                               pan=(-0.5, 0.5)[k]) for k in range(2)]
    if state == "muted":
        slow.mute = True
    elif state == "others soloed":
        plain[0].solo = plain[1].solo = True
    elif state == "one other soloed":
        plain[1].solo = True
    engine = _started(session)
    out = _run(engine, np.zeros((2, frames), np.float32))
    heard = [p for p in plain if p.solo or not any(t.solo for t in plain)]
    expected = np.zeros((2, frames + 480), np.float32)
    for track in heard:  # numpy: each click, 480 samples late, at the constant-power pan of a mono track
        angle = (track.pan + 1.0) * np.pi / 4
        clicks = track.source.audio(SR)[0]
        expected[0, 480 : 480 + frames] += clicks * np.float32(np.cos(angle))
        expected[1, 480 : 480 + frames] += clicks * np.float32(np.sin(angle))
    if state == "all heard":
        limited = out - expected[:, :frames]  # what is left is the slow track alone, 480 late, limited
        assert np.abs(limited[:, :480]).max() == 0.0
        assert np.abs(limited).max() > 0.1
    else:
        np.testing.assert_allclose(out, expected[:, :frames], atol=1e-6)


def test_a_locate_while_stopped_holds_until_play():
    """A click on the timeline's ruler (or Home) while stopped: the next block takes the new position, and it
    stays there (the callback once dropped it because a stopped transport wrote no position back)."""
    session = Session(sample_rate=SR, block_size=BLOCK)
    session.add_track("tone", ArraySource(program_signal(2, 0.5, seed=3), SR)).chain.add("Gain", gain_db=-3.0)
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    engine._locates.append(7 * BLOCK)  # what locate() queues while the stream runs
    _run(engine, np.zeros((2, 2 * BLOCK), np.float32))
    assert engine._position == 7 * BLOCK  # stopped: it holds there
    engine.play()
    _run(engine, np.zeros((2, BLOCK), np.float32))
    assert engine._position == 8 * BLOCK  # and plays on from there
