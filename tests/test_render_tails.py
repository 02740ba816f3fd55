"""Offline render tails: rendered whatever the input's length, and ended where the output falls below -90 dBFS.

The reference is pedalboard itself, called once on the input padded with
silence (no rackhost code in it): the render must have the same samples, and
end at the last sample pedalboard's output has above -90 dBFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pedalboard
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rackhost.chain import ArraySource, Session, render

THRESHOLD = 10 ** (-90 / 20)  # -90 dBFS, written out here rather than read from rackhost
HOLD_SECONDS = 1.0
MAX_TAIL = 8.0
SAMPLE_RATES = [44100, 48000, 96000, 192000]


@dataclass(frozen=True)
class TailCase:
    name: str
    values: dict

    def pedalboard(self) -> pedalboard.Plugin:
        return getattr(pedalboard, self.name)(**self.values)


CASES = {
    "long reverb": TailCase("Reverb", {"room_size": 0.8}),
    "short reverb": TailCase("Reverb", {"room_size": 0.3, "damping": 0.7}),
    "echo": TailCase("Delay", {"delay_seconds": 0.25, "feedback": 0.4, "mix": 0.5}),
    # A few dozen frames of ringing: ends inside the last block of the sources, past their end.
    "filter ring": TailCase("LowpassFilter", {"cutoff_frequency_hz": 2000.0}),
}


def _source(channels: int, frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.25 * rng.standard_normal((channels, frames))).astype(np.float32)


def _reference(case: TailCase, audio: np.ndarray, sr: int, block: int) -> np.ndarray:
    """pedalboard on the whole input padded with MAX_TAIL seconds of silence, as the stereo mix hears it."""
    padded = np.zeros((audio.shape[0], audio.shape[1] + int(MAX_TAIL * sr)), np.float32)
    padded[:, : audio.shape[1]] = audio
    out = case.pedalboard().process(padded, sr, buffer_size=block, reset=True)
    if audio.shape[0] == 1:  # a mono track panned centre: -3 dB to each side (constant power)
        out = np.vstack([out, out]) * np.float32(math.cos(math.pi / 4))
    return out


def _expected_end(reference: np.ndarray, frames: int, sr: int) -> int:
    loud = np.flatnonzero(np.max(np.abs(reference), axis=0) > THRESHOLD)
    end = max(frames, int(loud[-1]) + 1 if loud.size else 0)
    # The reference must itself be quiet for the hold after that, or the case proves nothing.
    assert end + int(HOLD_SECONDS * sr) <= reference.shape[1]
    return end


def _render(case: TailCase, audio: np.ndarray, sr: int, block: int):
    session = Session(sample_rate=sr, block_size=block)
    session.add_track("t", ArraySource(audio, sr)).chain.add(case.name, **case.values)
    return render(session, max_tail_seconds=MAX_TAIL)


@st.composite
def lengths(draw: st.DrawFn) -> tuple[int, int, int]:
    """(sample rate, block, frames): frames = k * block + r over every residue r, 0 included, and >= 1 s."""
    sr = draw(st.sampled_from(SAMPLE_RATES))
    block = draw(st.one_of(st.sampled_from([16, 64, 512, 4096]), st.integers(16, 4096)))
    residue = draw(st.one_of(st.just(0), st.integers(0, block - 1)))
    whole = math.ceil(sr / block) + draw(st.integers(0, 3))  # at least a second: the hold can pass in the body
    return sr, block, whole * block + residue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=lengths(), channels=st.sampled_from([1, 2]), kind=st.sampled_from(sorted(CASES)),
       seed=st.integers(0, 3))
@example(shape=(48000, 512, 94 * 512), channels=2, kind="long reverb", seed=0)  # the 48,128 frames of issue 14
@example(shape=(48000, 512, 94 * 512 + 1), channels=2, kind="long reverb", seed=0)
@example(shape=(192000, 4096, 47 * 4096), channels=1, kind="echo", seed=1)
@example(shape=(44100, 512, 87 * 512 + 100), channels=2, kind="filter ring", seed=0)
def test_the_tail_is_rendered_to_where_pedalboards_own_output_falls_below_90_dbfs(shape, channels, kind, seed):
    sr, block, frames = shape
    case = CASES[kind]
    audio = _source(channels, frames, seed)
    result = _render(case, audio, sr, block)
    reference = _reference(case, audio, sr, block)
    end = _expected_end(reference, frames, sr)
    assert end > frames, "every case rings on past the end of its input"
    assert result.audio.shape == (2, end)
    assert result.tail_frames == end - frames
    np.testing.assert_allclose(result.audio, reference[:, :end], atol=1e-6)


@pytest.mark.parametrize("frames", [94 * 512, 94 * 512 + 1, 95 * 512 - 1])
def test_a_reverb_tail_is_kept_when_the_input_is_whole_blocks_or_not(frames):
    """Issue 14: 48,128 frames (94 x 512) through a big reverb came out 1.00 s long, cut; 48,129 had its tail."""
    case = TailCase("Reverb", {"room_size": 0.9})
    audio = _source(2, frames, 0)
    session = Session(sample_rate=48000, block_size=512)
    session.add_track("t", ArraySource(audio, 48000)).chain.add(case.name, **case.values).set_mix(0.5)
    result = render(session, max_tail_seconds=MAX_TAIL)
    assert result.tail_frames > 3 * 48000  # a room this size rings for seconds
    # The last samples are the reverb dying away at -90 dBFS, not a cut at full level.
    assert np.max(np.abs(result.audio[:, -1])) > THRESHOLD
    assert np.max(np.abs(result.audio[:, -480:])) < 10 ** (-80 / 20)


@pytest.mark.parametrize("residue", [1, 100, 400])
def test_a_tail_shorter_than_the_last_blocks_overhang_is_kept(residue):
    """The block that reaches past the end of the sources is searched for the tail, all of it."""
    case = CASES["filter ring"]
    frames = 100 * 512 + residue
    audio = _source(2, frames, 3)
    audio[:, -1] = 0.9  # a step at the very end: the filter rings for a few dozen frames after it
    result = _render(case, audio, 48000, 512)
    end = _expected_end(_reference(case, audio, 48000, 512), frames, 48000)
    assert 0 < end - frames < 512 - residue  # the whole tail lies in the last block, past the sources' end
    assert result.tail_frames == end - frames


def test_a_latent_master_with_a_body_of_whole_blocks_keeps_its_tail():
    """The hold counts from the end of the sources plus the master's latency (here 480 samples)."""
    sr, block = 48000, 512
    frames = 100 * block - 480  # with ZaMaximX2's latency, exactly 100 blocks
    audio = _source(2, frames, 5) * np.float32(0.5)
    session = Session(sample_rate=sr, block_size=block)
    session.add_track("t", ArraySource(audio, sr)).chain.add("Reverb", room_size=0.7)
    session.master.chain.add("ZaMaximX2", threshold_db=-6.0)
    result = render(session, max_tail_seconds=MAX_TAIL)
    assert result.latency == 480
    assert result.tail_frames > sr  # seconds of reverb, not a cut
    assert np.max(np.abs(result.audio[:, -1])) > THRESHOLD


def test_a_tail_cut_by_max_tail_says_so_with_the_level_it_was_cut_at():
    sr = 48000
    source = np.zeros((1, sr), np.float32)
    source[0, :2000] = np.random.default_rng(1).standard_normal(2000) * 0.5
    session = Session(sample_rate=sr, block_size=512)
    session.add_track("hit", ArraySource(source, sr)).chain.add("Reverb", room_size=0.9)
    cut = render(session, max_tail_seconds=1.0)
    assert cut.tail_frames == sr
    [note] = [n for n in cut.notes if "tail was cut" in n]
    level = 20 * math.log10(float(np.max(np.abs(cut.audio[:, -sr // 100 :]))))
    assert f"at {level:.1f} dBFS" in note and "raise --max-tail" in note
    whole = render(session)
    assert whole.tail_frames > sr and not any("tail was cut" in n for n in whole.notes)
