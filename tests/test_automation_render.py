"""Envelopes rendered: on time to 32 samples whatever the block size, no zipper on ramps, real VST3s, every gain.

Real plug-ins throughout (pedalboard's Gain, Debian's ZamComp and ZamCompX2, ZaMaximX2 for latency).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from automation_helpers import render_block_by_block
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import ArraySource, Plugin, Session
from rackhost.chain.automated import GRID
from rackhost.chain.automation import Envelope, Point, SendTarget, SlotTarget, StripTarget, check_envelope
from rackhost.chain.render import render

SR = 48000
VST3 = Path("/usr/lib/vst3")
BLOCKS = st.sampled_from([32, 48, 64, 100, 128, 256, 500, 512, 1024, 2048, 4096])


def _automate(owner, target, *points) -> Envelope:
    envelope = check_envelope(owner, Envelope(target, tuple(Point(*p) for p in points)))
    owner.automation.append(envelope)
    return envelope


def _bounce(audio: np.ndarray, block: int = 512, chain: str | None = "Gain") -> tuple[Session, object]:
    session = Session(sample_rate=SR, block_size=block, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    slot = track.chain.add(chain, gain_db=0.0) if chain == "Gain" else None
    return session, slot


def _sine(seconds: float, amplitude: float = 0.5, hz: float = 441.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=BLOCKS, seconds=st.floats(0.3, 2.0, allow_subnormal=False),
       where=st.floats(0.05, 0.95, allow_subnormal=False))
def test_a_step_in_a_gain_envelope_lands_within_32_samples_of_its_time_whatever_the_block_size(block, seconds,
                                                                                                 where):
    audio = np.full((1, int(seconds * SR)), 0.5, np.float32)
    session, slot = _bounce(audio, block)
    t = round(seconds * where, 4)
    _automate(session.tracks[0], SlotTarget(slot, "gain_db"), (0.0, 0.0, "step"), (t, -20.0))
    out = render(session, tail=False).audio[0]
    assert out.shape == (audio.shape[1],)
    changed = np.flatnonzero(np.abs(out - 0.5) > 1e-4)
    assert abs(int(changed[0]) - t * SR) <= GRID
    assert np.allclose(out[int(changed[0]):], 0.05, atol=1e-6)  # and it stays at -20 dB after the step


def test_a_step_lands_on_its_own_sample_and_the_model_keeps_its_value():
    audio = np.full((1, SR), 0.5, np.float32)
    session, slot = _bounce(audio, 4096)
    _automate(session.tracks[0], SlotTarget(slot, "gain_db"), (0.0, 0.0, "step"), (0.5, -20.0))
    out = render(session, tail=False).audio[0]
    assert out[SR // 2 - 1] == 0.5 and math.isclose(out[SR // 2], 0.05, rel_tol=1e-5)
    assert slot.plugin.get("gain_db") == 0.0  # the render puts the envelope's last value back


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=BLOCKS, seconds=st.floats(0.25, 1.5, allow_subnormal=False))
def test_a_ramp_on_a_steady_sine_moves_in_steps_no_larger_than_the_32_sample_grid_gives(block, seconds):
    audio = _sine(seconds + 0.2)
    session, slot = _bounce(audio, block)
    _automate(session.tracks[0], SlotTarget(slot, "gain_db"), (0.1, 0.0), (0.1 + seconds, -30.0))
    out = render(session, tail=False).audio[0]
    loud = np.abs(audio[0]) > 0.2  # where the gain can be read from the ratio
    gain_db = 20 * np.log10(np.abs(out[loud]) / np.abs(audio[0][loud]))
    frames = np.flatnonzero(loud)
    near = np.diff(frames) == 1  # neighbouring samples only
    steps = np.abs(np.diff(gain_db))[near]
    grid_step = 30.0 / (seconds * SR) * GRID
    assert steps.max() <= grid_step * 1.01 + 1e-4
    assert steps.max() >= grid_step * 0.5  # it does move, in grid steps, not sample by sample
    assert gain_db[0] == pytest.approx(0.0, abs=1e-4) and gain_db[-1] == pytest.approx(-30.0, abs=1e-3)


@pytest.mark.parametrize("shape", ["linear", "smooth"])
def test_a_ramp_reads_its_curve_at_every_grid_point(shape):
    audio = np.full((1, SR), 0.5, np.float32)
    session, slot = _bounce(audio, 512)
    _automate(session.tracks[0], SlotTarget(slot, "gain_db"), (0.0, 0.0, shape), (1.0, -24.0))
    out = render(session, tail=False).audio[0]
    u = np.arange(0, SR, GRID) / SR
    expected = -24.0 * (u if shape == "linear" else u * u * (3 - 2 * u))
    got = 20 * np.log10(out[::GRID] / 0.5)
    assert np.allclose(got, expected, atol=1e-3)


def test_a_vst3_parameter_follows_its_envelope_as_a_hand_cut_pedalboard_loop_does():
    """ZamCompX2's threshold ramped: the same as cutting the audio every 32 samples and setting it by hand."""
    import pedalboard

    audio = np.vstack([_sine(1.0, 0.8)[0], _sine(1.0, 0.8, 600.0)[0]])
    session = Session(sample_rate=SR, block_size=256, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    slot = track.chain.add(Plugin.load(VST3 / "ZamCompX2.vst3"))
    slot.plugin.set("ratio", 8.0)
    slot.plugin.set("attack_ms", 1.0)
    _automate(track, SlotTarget(slot, "threshold_db"), (0.0, 0.0), (1.0, -40.0))
    ours = render(session, tail=False).audio

    by_hand = pedalboard.load_plugin(str(VST3 / "ZamCompX2.vst3"))
    by_hand.ratio, by_hand.attack_ms = 8.0, 1.0
    by_hand.process(np.zeros((2, 1024), np.float32), SR, 256, False)
    by_hand.reset()
    theirs = np.zeros_like(audio)
    for i in range(0, audio.shape[1], GRID):
        by_hand.threshold_db = -40.0 * i / SR
        theirs[:, i:i + GRID] = by_hand.process(audio[:, i:i + GRID], SR, 256, False)
    assert np.max(np.abs(ours[:, -SR // 4:])) < 0.5 * np.max(np.abs(audio))  # it did compress by the end
    assert np.max(np.abs(ours - theirs)) < 2e-3


def test_a_flat_envelope_on_a_mono_vst3_renders_as_the_static_value_does():
    audio = _sine(0.5, 0.8)
    static, _ = _bounce(audio, chain=None)
    static.tracks[0].chain.add(Plugin.load(VST3 / "ZamComp.vst3")).plugin.set("threshold_db", -20.0)
    automated, _ = _bounce(audio, chain=None)
    track = automated.tracks[0]
    slot = track.chain.add(Plugin.load(VST3 / "ZamComp.vst3"))
    _automate(track, SlotTarget(slot, "threshold_db"), (0.0, -20.0))
    assert np.array_equal(render(static, tail=False).audio, render(automated, tail=False).audio)
    assert slot.plugin.get("threshold_db") != -20.0  # the session keeps its own value; the envelope played


def test_an_envelope_after_a_latent_plugin_acts_on_the_audio_that_was_there_at_its_time():
    """ZaMaximX2 delays by 480 samples; a Gain step after it still lands at its time in the (aligned) output."""
    audio = np.full((2, SR), 0.1, np.float32)
    session = Session(sample_rate=SR, block_size=512, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    maxim = track.chain.add(Plugin.load(VST3 / "ZaMaximX2.vst3"))
    assert maxim.plugin.latency(SR, 512) > 0
    slot = track.chain.add("Gain", gain_db=0.0)
    _automate(track, SlotTarget(slot, "gain_db"), (0.0, 0.0, "step"), (0.5, -40.0))
    out = render(session, tail=False).audio[0]
    level_before = np.abs(out[SR // 2 - 200: SR // 2 - 8]).min()
    assert level_before > 0.01 and np.abs(out[SR // 2 + 8: SR // 2 + 200]).max() < level_before / 50


# -- faders, pans, sends, mutes, wet/dry --------------------------------------------------


def _mix_session(block: int = 512) -> Session:
    return Session(sample_rate=SR, block_size=block)


def test_a_fader_envelope_fades_the_track_per_sample():
    session = _mix_session()
    track = session.add_track("dc", ArraySource(np.full((2, SR), 0.5, np.float32), SR))
    _automate(track, StripTarget("gain_db"), (0.0, 0.0), (1.0, -20.0))
    out = render(session, tail=False).audio
    expected = 0.5 * 10 ** (-20.0 * np.arange(SR) / SR / 20)
    assert np.allclose(out[0], expected, rtol=1e-5) and np.allclose(out[1], expected, rtol=1e-5)


def test_a_pan_envelope_moves_a_mono_track_from_left_to_right_with_the_pan_law():
    session = _mix_session()
    track = session.add_track("dc", ArraySource(np.full((1, SR), 0.5, np.float32), SR))
    _automate(track, StripTarget("pan"), (0.0, -1.0), (1.0, 1.0))
    out = render(session, tail=False).audio
    assert out[1, 0] == pytest.approx(0.0, abs=1e-7) and out[0, -1] == pytest.approx(0.0, abs=1e-4)
    middle = SR // 2
    assert out[0, middle] == pytest.approx(0.5 * math.sqrt(0.5), rel=1e-3) == pytest.approx(out[1, middle], rel=1e-3)


def test_a_mute_envelope_silences_the_track_from_its_point_and_brings_it_back():
    session = _mix_session(256)
    track = session.add_track("dc", ArraySource(np.full((2, SR), 0.5, np.float32), SR))
    _automate(track, StripTarget("mute"), (0.0, 0.0), (0.25, 1.0), (0.75, 0.0))
    out = render(session, tail=False).audio[0]
    assert np.all(out[: SR // 4] == 0.5) and np.all(out[SR // 4: 3 * SR // 4] == 0.0)
    assert np.all(out[3 * SR // 4:] == 0.5)


@pytest.mark.parametrize("pre_fader", [True, False])
def test_a_send_level_envelope_opens_the_send_to_a_bus(pre_fader):
    session = _mix_session()
    track = session.add_track("dc", ArraySource(np.full((2, SR), 0.5, np.float32), SR))
    session.add_bus("verb")
    session.add_bus("dry")
    track.output = "dry"
    session.bus("dry").mute = True  # only the send is heard
    send = track.add_send("verb", -150.0, pre_fader=pre_fader)
    _automate(track, SendTarget(send), (0.0, -150.0, "step"), (0.5, -6.0))
    out = render(session, tail=False).audio[0]
    assert np.all(out[: SR // 2] == 0.0)
    assert np.allclose(out[SR // 2:], 0.5 * 10 ** (-6 / 20), rtol=1e-5)


def test_a_bus_fader_and_the_master_gain_follow_their_envelopes():
    session = _mix_session()
    track = session.add_track("dc", ArraySource(np.full((2, SR), 0.5, np.float32), SR), output="grp")
    session.add_bus("grp")
    _automate(session.bus("grp"), StripTarget("gain_db"), (0.0, 0.0, "step"), (0.25, -6.0))
    _automate(session.master, StripTarget("gain_db"), (0.0, 0.0, "step"), (0.5, -6.0))
    out = render(session, tail=False).audio[0]
    assert track.output == "grp"
    assert np.allclose(out[: SR // 4], 0.5)
    assert np.allclose(out[SR // 4: SR // 2], 0.5 * 10 ** (-6 / 20), rtol=1e-5)
    assert np.allclose(out[SR // 2:], 0.5 * 10 ** (-12 / 20), rtol=1e-5)


def test_a_wet_dry_envelope_crossfades_a_slot_from_dry_to_wet():
    audio = np.full((1, SR), 0.5, np.float32)
    session, slot = _bounce(audio)
    slot.plugin.set("gain_db", -40.0)
    _automate(session.tracks[0], SlotTarget(slot, "_mix"), (0.0, 0.0, "step"), (0.5, 1.0))
    out = render(session, tail=False).audio[0]
    assert np.all(out[: SR // 2] == 0.5) and np.allclose(out[SR // 2:], 0.005, rtol=1e-4)


# -- the same code block by block (as the live engine runs it) ---------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([64, 100, 128, 512]))
def test_block_by_block_as_live_gives_the_samples_of_the_offline_render(block):
    """The live callback calls strip.render / mix_tracks / master.render per block with the transport position:
    driving a snapshot that way gives the offline render's samples, envelopes and all."""
    from rackhost.chain.offline import render_mix

    def session() -> Session:
        s = Session(sample_rate=SR, block_size=block)
        t = s.add_track("a", ArraySource(_sine(1.0, 0.5)[0:1].repeat(2, axis=0), SR))
        comp = t.chain.add("Compressor", threshold_db=-10.0)
        _automate(t, SlotTarget(comp, "threshold_db"), (0.0, -10.0), (0.4, -30.0, "step"), (0.7, -5.0))
        _automate(t, StripTarget("pan"), (0.0, -0.5), (1.0, 0.5, "smooth"))
        return s

    offline = render_mix(session(), tail=False).audio
    assert np.array_equal(render_block_by_block(session(), block), offline)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from([64, 100, 128, 256, 500, 512, 1000]), shape=st.sampled_from(["linear", "smooth"]),
       ratio_too=st.booleans())
def test_a_vst3_parameter_stepping_every_few_hundred_frames_renders_as_live_blocks_do_bit_for_bit(block, shape,
                                                                                               ratio_too):
    """ZamCompX2's threshold moves in 0.08 dB steps: on a slow ramp it changes every ~270 frames, so a render joins
    the piece before a block boundary and the one after it into one call (pedalboard cutting it at the boundary)
    where a live engine makes two calls. The samples must be the live blocks' all the same."""
    from rackhost.chain.offline import render_mix

    def session() -> Session:
        s = Session(sample_rate=SR, block_size=block)
        t = s.add_track("a", ArraySource(np.vstack([_sine(1.0, 0.8)[0], _sine(1.0, 0.8, 600.0)[0]]), SR))
        zam = t.chain.add(Plugin.load(VST3 / "ZamCompX2.vst3"))
        zam.plugin.set("ratio", 6.0)
        _automate(t, SlotTarget(zam, "threshold_db"), (0.0, -5.0, shape), (0.5, -12.0, "step"), (0.6, -20.0),
                  (1.0, -26.0))
        if ratio_too:
            _automate(t, SlotTarget(zam, "ratio"), (0.0, 6.0), (0.3, 2.0, "step"), (0.55, 4.0))
        return s

    offline = render_mix(session(), tail=False).audio
    assert np.array_equal(render_block_by_block(session(), block), offline)


def test_a_delay_keeps_its_echoes_when_its_automated_ramp_ends_and_whole_blocks_resume():
    """pedalboard prepares a plug-in again, emptying a delay line, when a call is longer than any before it: a
    render hands an automated slot 32-frame pieces, then whole blocks once its envelope stops moving."""
    audio = np.zeros((1, SR), np.float32)
    audio[0, SR // 10] = 1.0  # a click at 0.1 s; ZamDelay echoes it 160 ms later
    session = Session(sample_rate=SR, block_size=512, track_bounce=True)
    track = session.add_track("in", ArraySource(audio, SR))
    delay = track.chain.add(Plugin.load(VST3 / "ZamDelay.vst3"))
    _automate(track, SlotTarget(delay, "lpf_hz"), (0.0, 20000.0), (0.15, 18000.0))
    out = render(session, tail=False).audio[0]
    echo = out[SR // 10 + int(0.16 * SR) - 64: SR // 10 + int(0.16 * SR) + 64]
    assert np.max(np.abs(echo)) > 0.1


def test_a_master_envelope_plays_in_a_render_to_a_loudness_target():
    from rackhost.chain import LoudnessTarget

    def session(automated: bool) -> Session:
        s = _mix_session()
        s.add_track("tone", ArraySource(_sine(3.0, 0.3).repeat(2, axis=0), SR))
        eq = s.master.chain.add("LowShelfFilter", cutoff_frequency_hz=2000.0, gain_db=0.0)
        s.master.chain.add("BrickwallLimiter", true_peak=True)
        s.master.loudness_target = LoudnessTarget(-20.0, -1.0)
        if automated:
            _automate(s.master, SlotTarget(eq, "gain_db"), (0.0, 0.0, "step"), (1.5, -12.0))
        return s

    plain, automated = render(session(False)), render(session(True))
    assert automated.target_report is not None and automated.target_report.within
    second_half = slice(int(2.0 * SR), int(2.9 * SR))
    first_half = slice(int(0.2 * SR), int(1.4 * SR))
    ratio = np.max(np.abs(automated.audio[:, second_half])) / np.max(np.abs(automated.audio[:, first_half]))
    assert ratio < 0.5  # the shelf cut the 441 Hz tone from 1.5 s on, before the target gain
    assert np.max(np.abs(plain.audio[:, second_half])) / np.max(np.abs(plain.audio[:, first_half])) > 0.9


@pytest.mark.parametrize("channels", [1, 2])
def test_a_master_slot_envelope_plays_in_a_bounce_whether_the_file_stays_mono_or_not(channels):
    audio = np.full((channels, SR), 0.5, np.float32)
    session, _ = _bounce(audio, chain=None)
    slot = session.master.chain.add("Gain", gain_db=0.0)
    _automate(session.master, SlotTarget(slot, "gain_db"), (0.0, 0.0, "step"), (0.5, -20.0))
    out = render(session, tail=False).audio
    assert out.shape == (channels, SR)
    assert np.all(out[:, : SR // 2] == 0.5) and np.allclose(out[:, SR // 2:], 0.05, rtol=1e-5)


def _fade_by_blocks(fade, cuts: list[int], total: int) -> np.ndarray:
    out = []
    for start, end in zip([0, *cuts], [*cuts, total]):
        gains = fade.gains(start, end - start)
        out.append(np.broadcast_to(gains, (gains.shape[0], end - start)))
    return np.concatenate(out, axis=1)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.tuples(st.integers(0, 40), st.floats(-40.0, 6.0, allow_subnormal=False),
                                 st.sampled_from(["linear", "step", "smooth"])), min_size=1, max_size=6),
       pan=st.booleans(), cuts=st.lists(st.integers(1, 5119), max_size=12), block=BLOCKS)
def test_a_fader_envelope_gives_the_same_gains_bit_for_bit_however_the_blocks_are_cut(points, pan, cuts, block):
    """Live blocks and offline segments cut the transport differently (points on a block's edge, or inside
    it); the gains must not depend on it, nor on a block being the first of a cached stretch."""
    from rackhost.chain.automated import Curve, Fade

    session = Session(sample_rate=SR, block_size=block)
    track = session.add_track("t", ArraySource(np.zeros((2, 10), np.float32), SR))
    # Points on a 128-frame grid (where live blocks start), so some fall on a block's edge and some inside.
    times = sorted({t for t, _, _ in points})
    envelope = _automate(track, StripTarget("gain_db"), *[
        (t * 128 / SR, next(v for u, v, _ in points if u == t), next(s for u, _, s in points if u == t))
        for t in times])
    curves = {"gain_db": Curve(envelope, SR)}
    if pan:
        curves["pan"] = Curve(_automate(track, StripTarget("pan"), (0.0, -1.0), (3000 / SR, 1.0)), SR)
    total = 5120
    whole = _fade_by_blocks(Fade(track, curves, 2, 0, True), [], total)
    by_block = _fade_by_blocks(Fade(track, curves, 2, 0, True), list(range(block, total, block)), total)
    anyhow = _fade_by_blocks(Fade(track, curves, 2, 0, True, stagger=7), sorted(set(cuts)), total)
    assert np.array_equal(whole, by_block)
    assert np.array_equal(whole, anyhow)
