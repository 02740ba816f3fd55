"""Long files in a batch render in bounded memory, to the samples a whole-file render gives.

The streamed render (:mod:`rackhost.chain.batch.stream`) reads the input a
segment at a time, runs the same engine and writes as it goes; its meter does
BS.1770 gating from block mean squares. Each is checked against the whole-file
code it stands in for, over lengths and block sizes, and a few minutes of
audio are rendered with Python's allocations traced to show memory stays flat.
"""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain import LoudnessTarget, Plugin, Session
from rackhost.chain.batch import Job, RenderOptions, render_one
from rackhost.chain.batch.stream import StreamedFileSource, stream_to_file
from rackhost.chain.loudness import StreamMeter, measure
from rackhost.chain.render import render_to_file
from rackhost.chain.source import AudioFileSource
from rackhost.cli.chain_spec import parse_chain

# A filter, a delay (a tail to ring out), a compressor, and a limiter with latency to trim.
CHAIN = ("HighpassFilter(cutoff_frequency_hz=80); Delay(delay_seconds=0.05, feedback=0.4, mix=0.3); "
         "ZamCompX2(threshold_db=-24, ratio=4); BrickwallLimiter(true_peak=true)")


def bounce(block: int, chain: str = CHAIN, target: LoudnessTarget | None = None) -> Session:
    """A bounce through ``chain``; with a ``target``, mastered to it by a limiter ending the master chain."""
    session = Session(block_size=block, track_bounce=True)
    session.add_track("input", None, parse_chain(chain))
    if target is not None:
        session.master.chain.add(Plugin.builtin("BrickwallLimiter", true_peak=True))
        session.master.loudness_target = target
    return session


def whole_and_streamed(session: Session, path: Path, tmp: Path, **options: object) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``path`` rendered whole and streamed (32-bit float files: nothing rounded away)."""
    session.tracks[0].source = AudioFileSource(path)
    render_to_file(session, tmp / "whole.wav", bit_depth=32, **options)  # type: ignore[arg-type]
    source = StreamedFileSource(path)
    session.tracks[0].source = source  # type: ignore[assignment]
    try:
        stream_to_file(session, tmp / "streamed.wav", bit_depth=32, **options)  # type: ignore[arg-type]
    finally:
        source.close()
    # Samples, not bytes: a float WAV's PEAK chunk carries the time it was written.
    return tuple(sf.read(tmp / name, dtype="float32", always_2d=True)[0] for name in ("whole.wav", "streamed.wav"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.integers(1, 3 * SR), block=st.sampled_from([32, 64, 128, 256, 500, 512, 1024, 4096]),
       channels=st.sampled_from([1, 2]), tail=st.booleans())
def test_a_streamed_render_writes_the_samples_of_a_whole_file_render_for_any_length_and_block(
        tmp_path_factory: pytest.TempPathFactory, frames: int, block: int, channels: int, tail: bool):
    tmp = tmp_path_factory.mktemp("stream")
    audio = program_signal(channels, frames / SR, seed=frames)[:, :frames]
    path = tmp / "in.wav"
    sf.write(path, audio.T, SR, subtype="FLOAT")
    whole, streamed = whole_and_streamed(bounce(block), path, tmp, tail=tail, max_tail_seconds=0.5)
    assert whole.shape == streamed.shape and np.array_equal(whole, streamed)


def test_a_streamed_render_to_a_loudness_target_writes_what_the_whole_file_render_writes(tmp_path: Path):
    path = tmp_path / "in.wav"
    sf.write(path, program_signal(2, 6.0, seed=4).T, SR, subtype="FLOAT")
    session = bounce(512, "ZamCompX2(threshold_db=-20)", LoudnessTarget(-12.0, -1.0))
    whole, streamed = whole_and_streamed(session, path, tmp_path)
    assert whole.shape == streamed.shape and np.array_equal(whole, streamed)
    assert abs(measure(sf.read(tmp_path / "streamed.wav", always_2d=True)[0].T, SR).integrated_lufs - -12.0) <= 0.5


@settings(max_examples=25, deadline=None)
@given(seconds=st.floats(0.41, 5.0, allow_subnormal=False), feed=st.integers(200, 30000),
       quiet=st.floats(0.0, 1.0, allow_subnormal=False), channels=st.sampled_from([1, 2]),
       rate=st.sampled_from([44100, 48000, 96000]))
def test_the_streamed_meter_reads_what_pyloudnorm_reads_of_the_whole_signal(seconds: float, feed: int, quiet: float,
                                                                            channels: int, rate: int):
    audio = program_signal(channels, seconds, seed=feed).astype(np.float64)
    frames = int(seconds * rate)
    audio = np.resize(audio, (channels, frames))
    audio[:, frames // 3: frames // 2] *= quiet  # a quiet stretch, which the gates may leave out
    meter = StreamMeter(rate, channels)
    for start in range(0, frames, feed):
        meter.add(audio[:, start: start + feed])
    got, want = meter.report(), measure(audio, rate)
    assert want.integrated_lufs is not None and got.integrated_lufs is not None
    assert abs(got.integrated_lufs - want.integrated_lufs) <= 0.01
    assert got.peak_dbfs == want.peak_dbfs
    assert abs(got.true_peak_dbtp - want.true_peak_dbtp) <= 0.01


def write_long(path: Path, seconds: int) -> None:
    """A long stereo file written a second at a time (never whole in memory)."""
    with sf.SoundFile(str(path), "w", SR, 2, "PCM_16") as file:
        one = program_signal(2, 1.0, seed=1).T * 0.5
        for i in range(seconds):
            file.write(one * (0.5 + 0.5 * np.sin(i / 7)))  # a level that moves, so the gates have work


def peak_traced(job: Job, session: Session, options: RenderOptions) -> tuple[int, dict]:
    tracemalloc.start()
    try:
        record = render_one(session, job, options)
        return tracemalloc.get_traced_memory()[1], record
    finally:
        tracemalloc.stop()


def test_a_long_file_masters_to_a_loudness_target_in_memory_that_does_not_grow_with_its_length(tmp_path: Path):
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    write_long(short, 30)
    write_long(long, 180)  # 3 minutes: held whole, 66 MB of float32 in and as much out
    options = RenderOptions(bit_depth=24, stream_above_seconds=0.0)
    session = bounce(512, "Gain(gain_db=0)", LoudnessTarget(-14.0, -1.0))
    warm = tmp_path / "warm.wav"
    write_long(warm, 2)
    render_one(session, Job(warm, tmp_path / "warm-out.wav"), options)  # imports and first-use caches, untraced
    small, record_short = peak_traced(Job(short, tmp_path / "out" / "short.wav"), session, options)
    big, record_long = peak_traced(Job(long, tmp_path / "out" / "long.wav"), session, options)
    assert record_short.status == record_long.status == "done", (record_short.reason, record_long.reason)
    whole_file = 180 * SR * 2 * 4  # one float32 copy of the long file
    print(f"peak traced: {small / 1e6:.1f} MB for 30 s, {big / 1e6:.1f} MB for 180 s")
    assert big < whole_file / 3, f"peak {big / 1e6:.1f} MB traced for a {whole_file / 1e6:.0f} MB file"
    assert big - small < 4e6, f"peak grew from {small / 1e6:.1f} to {big / 1e6:.1f} MB with 6x the audio"
    assert abs(record_long.after["integrated_lufs"] - -14.0) <= 0.5 and record_long.after["true_peak_dbtp"] <= -1.0
    assert sf.info(tmp_path / "out" / "long.wav").frames >= 180 * SR
    assert not list((tmp_path / "out").glob(".*"))  # the scratch file before the limiter is gone


def test_an_album_of_streamed_files_gets_the_gain_and_samples_of_one_read_whole(tmp_path: Path):
    from rackhost.chain.batch import find_jobs, run
    from rackhost.cli.batch import SessionRecipe

    songs = tmp_path / "songs"
    songs.mkdir()
    sf.write(songs / "loud.wav", program_signal(2, 3.0, seed=1).T, SR, subtype="FLOAT")
    sf.write(songs / "quiet.wav", 0.3 * program_signal(2, 3.0, seed=2).T, SR, subtype="FLOAT")
    recipe = SessionRecipe(chain="ZamCompX2(threshold_db=-20)", loudness_target=-14.0)
    for name, above in (("whole", 600.0), ("streamed", 0.0)):
        out = tmp_path / name
        summary = run(find_jobs([songs], out), recipe, RenderOptions(bit_depth=32, stream_above_seconds=above),
                      out=out, workers=1, album=True)
        assert summary.done == 2, [r.reason for r in summary.finished]
        assert not list(out.glob(".*"))  # no scratch file left
    for song in ("loud.wav", "quiet.wav"):
        whole = sf.read(tmp_path / "whole" / song, dtype="float32")[0]
        assert np.array_equal(whole, sf.read(tmp_path / "streamed" / song, dtype="float32")[0]), song


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.one_of(st.integers(1, int(0.4 * SR)), st.integers(int(0.4 * SR), 3 * SR)),
       channels=st.sampled_from([1, 2]), rate=st.sampled_from([44100, 48000]), silent=st.booleans(),
       target=st.booleans(), streamed=st.booleans(), resampled=st.booleans())
def test_the_input_loudness_a_batch_records_is_measure_of_the_whole_input(
        tmp_path_factory: pytest.TempPathFactory, frames: int, channels: int, rate: int, silent: bool, target: bool,
        streamed: bool, resampled: bool):
    # The input is measured as the render reads it (a target render reads it several times, a resampled one
    # at another rate, a streamed one from the file): whatever the way, the record holds measure()'s figures.
    tmp = tmp_path_factory.mktemp("before")
    audio = np.resize(program_signal(channels, 3.0, seed=frames), (channels, frames)) * (0.0 if silent else 1.0)
    path = tmp / "in.wav"
    sf.write(path, audio.T, rate, subtype="FLOAT")
    target = target and not silent and frames >= 0.5 * rate  # a target needs loudness to set
    session = bounce(512, "HighpassFilter(cutoff_frequency_hz=80)", LoudnessTarget(-16.0, -1.0) if target else None)
    options = RenderOptions(bit_depth=32, stream_above_seconds=0.0 if streamed else 600.0,
                            sample_rate=(88200 if rate == 44100 else 96000) if resampled else None)
    record = render_one(session, Job(path, tmp / "out.wav"), options)
    assert record.status == "done", record.reason
    want = measure(sf.read(path, dtype="float32", always_2d=True)[0].T, rate)
    got = record.before
    if want.integrated_lufs is None or want.integrated_lufs == -math.inf:
        assert got["integrated_lufs"] is None
    else:
        assert abs(got["integrated_lufs"] - want.integrated_lufs) <= 1e-6
    if want.true_peak_dbtp == -math.inf:
        assert got["true_peak_dbtp"] is None
    else:
        assert abs(got["true_peak_dbtp"] - want.true_peak_dbtp) <= 1e-4
    if target:
        assert abs(record.after["integrated_lufs"] - -16.0) <= 0.5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.one_of(st.integers(1, int(0.4 * SR)), st.integers(int(0.4 * SR), 4 * SR)),
       channels=st.sampled_from([1, 2]), block=st.sampled_from([500, 512]), target=st.booleans(),
       streamed=st.booleans())
def test_a_batch_file_gets_the_samples_and_figures_of_a_bare_render_and_a_meter_fed_copies(
        tmp_path_factory: pytest.TempPathFactory, frames: int, channels: int, block: int, target: bool,
        streamed: bool):
    # The batch's input meter holds a whole file's own samples as the render reads them instead of copying each
    # segment: the record's "before" is, to the last bit, a meter fed a copy of every segment the render reads
    # (segments of 16000 frames for 500-frame blocks: the meter gathers them across its 65536-frame chunks), and
    # the output and "after" are those of the same render with no batch around it.
    tmp = tmp_path_factory.mktemp("bare")
    audio = np.resize(program_signal(channels, 4.0, seed=frames), (channels, frames)).astype(np.float32)
    path = tmp / "in.wav"
    sf.write(path, audio.T, SR, subtype="PCM_24")
    target = target and frames >= 0.5 * SR  # a target needs loudness to set
    session = bounce(block, "HighpassFilter(cutoff_frequency_hz=80)", LoudnessTarget(-16.0, -1.0) if target else None)
    options = RenderOptions(stream_above_seconds=0.0 if streamed else 600.0)
    record = render_one(session, Job(path, tmp / "out.wav"), options)
    assert record.status == "done", record.reason

    samples = AudioFileSource(path).audio(SR)
    meter = StreamMeter(SR, channels, np.float32)
    segment = block * (16384 // block)
    for start in range(0, frames, segment):
        meter.add(np.array(samples[:, start: start + segment]))
    before = meter.report().to_dict()
    assert record.before == {"integrated_lufs": before["integrated_lufs"], "true_peak_dbtp": before["true_peak_dbtp"]}

    session.tracks[0].source = AudioFileSource(path)
    bare = render_to_file(session, tmp / "bare.wav")
    assert sf.read(tmp / "out.wav", dtype="int32")[0].tobytes() == sf.read(tmp / "bare.wav", dtype="int32")[0].tobytes()
    after = (bare.target_report.achieved if target else bare.loudness()).to_dict()
    if not streamed:  # a streamed render measures its output as it writes it: measure()'s figures to rounding
        assert record.after == {"integrated_lufs": after["integrated_lufs"], "true_peak_dbtp": after["true_peak_dbtp"]}
