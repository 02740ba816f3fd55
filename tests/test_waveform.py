"""Waveform peaks on real audio files (the demo's drums and voice as written to disk: transients, silence, a
22.05 kHz mono file): every pixel bucket holds its run's true lowest and highest sample, for a sweep of
lengths and widths; a file is read once per path and modification time, and again when it is rewritten."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.cli import demo
from rackhost.gui.waveform import BIN, PeakCache, overview_image, peaks, read_peaks


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo.write_demo_sources(tmp_path_factory.mktemp("waveform"), seconds=3.0)


def _naive(audio: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket k covers frames k*n//buckets up to the next bucket's first (at least one frame)."""
    n = audio.shape[1]
    lows, highs = np.empty(buckets, audio.dtype), np.empty(buckets, audio.dtype)
    for k in range(buckets):
        start = k * n // buckets
        end = max((k + 1) * n // buckets, start + 1)
        lows[k], highs[k] = audio[:, start:end].min(), audio[:, start:end].max()
    return lows, highs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["drums", "pad", "voice"]), start=st.floats(0.0, 0.9, allow_subnormal=False),
       length=st.integers(1, 60_000), width=st.integers(1, 2_500))
def test_every_bucket_holds_its_runs_true_lowest_and_highest_sample(sources, name, start, length, width):
    assert name in sources, "the demo has no voice file: 'make setup' installs espeak-ng, which speaks it"
    audio, _ = sf.read(str(sources[name]), dtype="float32", always_2d=True)
    audio = audio.T
    first = int(start * audio.shape[1])
    clip = audio[:, first:first + length]
    lows, highs = peaks(clip, width)
    expected_lows, expected_highs = _naive(clip, width)
    assert len(lows) == len(highs) == width
    np.testing.assert_array_equal(lows, expected_lows)
    np.testing.assert_array_equal(highs, expected_highs)
    assert highs.max() == clip.max() and lows.min() == clip.min()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["drums", "bass", "voice"]), length=st.integers(1, 100_000),
       width=st.integers(1, 2_000), span=st.floats(1.0, 3.0, allow_subnormal=False))
def test_a_files_pixel_columns_never_miss_a_peak_and_stop_where_the_file_ends(sources, tmp_path, name, length,
                                                                             width, span):
    assert name in sources, "the demo has no voice file: 'make setup' installs espeak-ng, which speaks it"
    audio, rate = sf.read(str(sources[name]), dtype="float32", always_2d=True)
    clip = audio[:length]
    path = tmp_path / f"{name}-{length}.wav"
    sf.write(str(path), clip, rate, subtype="FLOAT")  # float: the samples read back are the ones written
    found = read_peaks(path)
    assert found.frames == len(clip) and found.sample_rate == rate
    runs = [clip[j:j + BIN] for j in range(0, len(clip), BIN)]  # the fine buckets: BIN frames, the last shorter
    np.testing.assert_array_equal(found.lows, [run.min() for run in runs])
    np.testing.assert_array_equal(found.highs, [run.max() for run in runs])
    seconds = span * found.seconds  # the view spans the file and past it (a loop beyond its end, say)
    lows, highs = found.columns(seconds, width)
    covered = int(np.isfinite(highs).sum())
    assert covered == min(width, int(np.ceil(width * found.seconds / seconds)))
    assert np.isnan(highs[covered:]).all()
    assert np.nanmax(highs) == clip.max() and np.nanmin(lows) == clip.min()


def test_a_file_is_read_once_per_path_and_modification_and_again_when_rewritten(sources, tmp_path):
    audio, rate = sf.read(str(sources["drums"]), dtype="float32")
    path = tmp_path / "drums.wav"
    sf.write(str(path), audio, rate)
    cache = PeakCache()

    def wait() -> object:
        deadline = time.monotonic() + 30
        while (found := cache.get(path)) is None:
            assert time.monotonic() < deadline, "the worker never read the file"
            time.sleep(0.01)
        return found

    first = wait()
    for _ in range(50):  # a frame loop asking every frame
        assert cache.get(path) is first
    assert cache.reads == 1
    sf.write(str(path), audio[: len(audio) // 2], rate)  # rewritten in place: another size and time
    second = wait()
    assert cache.reads == 2 and second.frames == len(audio) // 2


def test_the_picture_fills_each_column_from_its_high_to_its_low_and_leaves_the_rest_clear():
    lows = np.array([-0.5, 0.0, np.nan], np.float32)
    highs = np.array([0.5, 1.0, np.nan], np.float32)
    image = overview_image([(lows, highs, (255, 0, 0))], 3, 11)
    drawn = image[:, :, 3] > 0
    assert drawn[:, 0].nonzero()[0].tolist() == list(range(2, 9))  # 0.5..-0.5 over 11 rows: 2.5..7.5
    assert drawn[:, 1].nonzero()[0].tolist() == list(range(0, 6))
    assert not drawn[:, 2].any()  # after the file: nothing
