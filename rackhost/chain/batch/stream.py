"""Long files in bounded memory: read in segments, rendered by the offline engine, written as they come.

:func:`rackhost.chain.offline.render_mix` holds the source and the output
whole (a 1-hour stereo file is 1.4 GB of float32 each way). Here the same
block engine runs (the session's snapshot, its track strips and master strip,
whose chains are :meth:`rackhost.chain.chain.Chain.processor`), in the same
segments, so the samples are those of a whole-file render, bit for bit; only
the source is read from the file segment by segment, and the output goes to
the file segment by segment (a tail held back until it is known to ring).

Measuring is streamed too (:class:`rackhost.chain.loudness.StreamMeter`), and
:class:`MeteredSource` measures the input as the render reads it. A loudness
target renders the master up to its limiter into a float file beside the
output (not into memory), finds the gain by running the limiter alone over
that file (as :mod:`rackhost.chain.mastering` does over its array), then
renders the full pass to the output.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from rackhost.chain.dsp import db_to_gain
from rackhost.chain.loudness import LoudnessReport, StreamMeter
from rackhost.chain.mastering import CEILING_FLOOR_DB
from rackhost.errors import AudioFileError

Sink = Callable[[np.ndarray], None]  # takes the next (channels, n) frames of the output
READ_FRAMES = 65536  # how much of a file a meter or a search reads at a time


class StreamedFileSource:
    """An audio file a track plays without loading it: it reads the segment the engine asks for.

    To the offline engine it is its own audio at the file's rate (it has the
    ``shape`` and slicing of the array it stands for); the engine reads it in
    order, so each read follows the last.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.name
        try:
            self._file = sf.SoundFile(str(path))
        except sf.LibsndfileError as err:
            from rackhost.chain.source import READABLE

            raise AudioFileError(f"cannot read {str(path)!r} as audio ({err.error_string}); rackhost reads "
                                 f"{READABLE}") from err
        except (OSError, RuntimeError) as err:
            raise AudioFileError(f"cannot read {str(path)!r}: {err}") from err
        self.sample_rate = float(self._file.samplerate)
        self.note: str | None = None
        if self._file.channels > 2:
            self.close()
            raise AudioFileError(f"{str(path)!r} has {self._file.channels} channels; rackhost tracks are mono or "
                                 f"stereo, so split it into mono or stereo files first")
        if self._file.frames == 0:
            self.close()
            raise AudioFileError(f"{str(path)!r} holds no audio (0 frames)")

    @property
    def channels(self) -> int:
        return self._file.channels

    @property
    def frames(self) -> int:
        return self._file.frames

    @property
    def shape(self) -> tuple[int, int]:
        return (self.channels, self.frames)

    def audio(self, sample_rate: float) -> StreamedFileSource:
        if sample_rate != self.sample_rate:  # the batch streams only files at the render's rate
            raise AudioFileError(f"{self.name}: a streamed file plays at its own rate ({self.sample_rate:g} Hz), "
                                 f"not {sample_rate:g} Hz")
        return self

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        frames = index[1]
        start, stop = frames.start or 0, min(frames.stop, self.frames)
        if stop <= start:
            return np.zeros((self.channels, 0), np.float32)
        if self._file.tell() != start:
            self._file.seek(start)
        return np.ascontiguousarray(self._file.read(max(0, stop - start), dtype="float32", always_2d=True).T)

    def to_dict(self) -> dict:
        return {"type": "file", "path": str(self.path)}

    def close(self) -> None:
        self._file.close()


class MeteredSource:
    """A track's source (an :class:`~rackhost.chain.source.AudioFileSource` or a :class:`StreamedFileSource`) that
    measures itself as the render reads it: :meth:`loudness` is :func:`rackhost.chain.loudness.measure` of the
    whole input, without a pass over the input of its own.

    The render reads its source in order, a segment at a time; each frame is fed to a :class:`StreamMeter` the
    first time it is read (a target render's later passes read it again, and are not fed). Frames the render did
    not read at the source's own rate (a resampled file, a muted track) are read for the meter at the end.
    """

    def __init__(self, source: object):
        self.source = source
        self.meter = StreamMeter(source.sample_rate, source.channels, np.float32)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:  # the source's name, note, frames, channels, path, close...
        if name == "source":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.source, name)

    def audio(self, sample_rate: float) -> object:
        audio = self.source.audio(sample_rate)  # type: ignore[attr-defined]
        if sample_rate != self.source.sample_rate:  # type: ignore[attr-defined]
            return audio  # the input is measured at its own rate, as it is in the file
        return _MeteredReads(audio, self.meter)

    def loudness(self) -> LoudnessReport:
        own = self.source.audio(self.source.sample_rate)  # type: ignore[attr-defined]
        for start in range(self.meter.frames, own.shape[1], READ_FRAMES):
            self.meter.add(own[:, start: min(start + READ_FRAMES, own.shape[1])], kept=True)
        return self.meter.report()


class _MeteredReads:
    """The source's audio as the render slices it (``audio[:, a:b]``), each new frame handed to the meter too."""

    def __init__(self, audio: object, meter: StreamMeter):
        self.audio = audio
        self.meter = meter
        self.shape = audio.shape  # type: ignore[attr-defined]

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        read = self.audio[index]  # type: ignore[index]
        start = index[1].start or 0
        stop = start + read.shape[1]
        seen = self.meter.frames
        if stop > seen:
            if start > seen:  # a read that skipped ahead: the meter reads the gap itself
                self.meter.add(np.asarray(self.audio[:, seen:start], np.float32), kept=True)  # type: ignore[index]
                seen = start
            # A whole file's own samples, which nothing writes into, are measured as they are; a streamed file's
            # read is handed to the engine, so the meter keeps a copy.
            self.meter.add(read[:, seen - start:], kept=isinstance(self.audio, np.ndarray))
        return read


# -- rendering --------------------------------------------------------------------------------------


@dataclass
class StreamResult:
    """What a streamed render wrote; its ``loudness()`` was measured as it went."""

    sample_rate: int
    frames: int
    latency: int
    tail_frames: int
    meter: StreamMeter
    notes: list[str] = field(default_factory=list)
    clipped_samples: int = 0
    target_report: object | None = None

    def loudness(self) -> LoudnessReport:
        return self.meter.report()

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def stream_mix(session: object, sink: Sink, *, tail: bool = True, max_tail_seconds: float = 30.0) -> StreamResult:
    """:func:`rackhost.chain.offline.render_mix` of ``session`` with its output handed to ``sink`` segment by
    segment instead of kept: the same engine, the same segments, the same samples.

    Its file track must play a :class:`StreamedFileSource` (or nothing longer than a segment is held).
    """
    from rackhost.chain.midi.instrument import InstrumentSource, reseed_c_random
    from rackhost.chain.mixer import bounced
    from rackhost.chain.offline import (
        SEGMENT_TARGET_FRAMES,
        TAIL_HOLD_SECONDS,
        TAIL_THRESHOLD_DB,
        _offline_source,
        _TrackRenderer,
    )

    s = session
    sr, block = s.sample_rate, s.block_size  # type: ignore[attr-defined]
    segment = block * max(1, SEGMENT_TARGET_FRAMES // block)
    s.reset()  # type: ignore[attr-defined]
    snap = s.snapshot(max_segment=segment)  # type: ignore[attr-defined]
    if snap.automation is not None:
        snap.automation.prime()
    if s.track_bounce:  # type: ignore[attr-defined]
        snap = bounced(snap, s.tracks[0], s.master)  # type: ignore[attr-defined]
    sources = [_offline_source(s.tracks[t.index], sr, block, segment) for t in snap.tracks]  # type: ignore[attr-defined]
    notes = list(snap.notes) + [t.source.note for t in s.tracks if t.source is not None and t.source.note]  # type: ignore[attr-defined]
    if any(isinstance(x, InstrumentSource) for x in sources):
        reseed_c_random()
    length = max((x.frames if isinstance(x, InstrumentSource) else x.shape[1]
                  for x, heard in zip(sources, snap.audible) if heard), default=0)
    latency = snap.latency
    body = length + latency
    limit = body + (int(max_tail_seconds * sr) if tail else 0)
    width = snap.master.width
    meter = StreamMeter(sr, width)
    threshold = db_to_gain(TAIL_THRESHOLD_DB)
    hold = int(TAIL_HOLD_SECONDS * sr)
    last_loud = body - 1
    held = np.zeros((width, 0), np.float32)  # output frames past the sources not yet known to be in the tail
    emitted = latency  # frame index of the next output frame (the latency is trimmed from the start)
    cut_level = 0.0  # the last 10 ms before the tail limit, for the note when it is cut there

    def emit(upto: int) -> None:
        nonlocal held, emitted
        n = max(0, min(upto, emitted + held.shape[1]) - emitted)
        if n:
            out = held[:, :n]
            meter.add(out)
            sink(out)
            held, emitted = held[:, n:], emitted + n

    with _TrackRenderer(snap, sources, None) as tracks:
        mix = np.zeros((2, segment), np.float32)
        seg_out = np.zeros((2, segment), np.float32)
        pos = 0
        while pos < limit:
            n = segment if pos >= body else min(segment, -(-(body - pos) // block) * block)
            outputs = tracks.render(pos, n)
            out = seg_out[:, :n]
            snap.master.render(snap.mix_tracks(outputs, mix[:, :n], pos, tracks.render_row), out, pos)
            if tail and pos + n > body:
                loud = np.flatnonzero(np.max(np.abs(out), axis=0) > threshold)
                if loud.size:
                    last_loud = max(last_loud, pos + int(loud[-1]))
                lo, hi = max(body, limit - sr // 100, pos), min(limit, pos + n)
                if hi > lo:
                    cut_level = max(cut_level, float(np.max(np.abs(out[:, lo - pos: hi - pos]))))
            keep_from = max(emitted + held.shape[1], pos)
            if keep_from < pos + n:
                held = np.concatenate([held, out[:width, keep_from - pos:].copy()], axis=1)
            emit(min(limit, max(body, last_loud + 1)) if tail else body)
            pos += n
            if pos >= body and (not tail or pos - (last_loud + 1) >= hold):
                break
        end = min(last_loud + 1, limit) if tail else body
        emit(end)
    if tail and last_loud + 1 > limit and limit > body:
        notes.append(f"the tail was cut at the {max_tail_seconds:g} s limit while still at "
                     f"{20 * math.log10(max(cut_level, 1e-12)):.1f} dBFS (a tail ends below {TAIL_THRESHOLD_DB:g} "
                     f"dBFS); raise --max-tail to let it ring out")
    return StreamResult(sr, max(0, end - latency), latency, max(0, end - body), meter, notes)


class _FileSink:
    """Writes the output a segment at a time (clipped for PCM, as a whole-file render clips it), or nowhere."""

    def __init__(self, open_file: Callable[[int], sf.SoundFile] | None, pcm: bool):
        self.open_file = open_file  # opens the file as wide as the first block (the master strip's width)
        self.file: sf.SoundFile | None = None
        self.pcm = pcm
        self.clipped = 0

    def close(self, channels: int) -> None:
        if self.file is None and self.open_file is not None:  # nothing came: an empty file all the same
            self.file = self.open_file(channels)
        if self.file is not None:
            self.file.close()

    def __call__(self, block: np.ndarray) -> None:
        if self.file is None and self.open_file is not None:
            self.file = self.open_file(block.shape[0])
        if self.pcm:
            over = int(np.count_nonzero(np.abs(block) > 1.0))
            if over:
                self.clipped += over
                block = np.clip(block, -1.0, 1.0)
        if self.file is not None:
            self.file.write(block.T)


def stream_to_file(session: object, path: Path, *, bit_depth: int = 24, tail: bool = True,
                   max_tail_seconds: float = 30.0, write: bool = True) -> StreamResult:
    """:func:`rackhost.chain.render.render_to_file` in bounded memory (a loudness target included).

    ``write=False`` renders and measures without writing ``path`` (an album's
    first pass); a loudness target's scratch file is still made beside it.
    """
    from rackhost.atomic import replacing
    from rackhost.chain.render import FORMATS, output_subtype

    path = Path(path)
    subtype = output_subtype(path, bit_depth)
    options = {"tail": tail, "max_tail_seconds": max_tail_seconds}
    target = session.master.loudness_target  # type: ignore[attr-defined]
    try:
        with replacing(path) if write else _nowhere() as tmp:
            def mix_to(mix: Callable[[Sink], StreamResult]) -> StreamResult:
                def open_file(channels: int) -> sf.SoundFile:
                    return sf.SoundFile(str(tmp), "w", int(session.sample_rate), channels, subtype,  # type: ignore[attr-defined]
                                        format=FORMATS[path.suffix.lower()])

                sink = _FileSink(None if tmp is None else open_file, subtype.startswith("PCM"))
                try:
                    result = mix(sink)
                finally:
                    sink.close(2)
                result.clipped_samples = sink.clipped
                return result

            if target is None:
                result = mix_to(lambda sink: stream_mix(session, sink, **options))
            else:
                result = _to_target(session, target, path, mix_to, options)
    except (OSError, RuntimeError, sf.LibsndfileError) as err:
        raise AudioFileError(f"could not write {str(path)!r}: {err}") from err
    return result


@contextmanager
def _nowhere() -> Iterator[None]:
    yield None


def _to_target(session: object, target: object, path: Path, write: Callable, options: dict) -> StreamResult:
    """:func:`rackhost.chain.mastering.render_to_target` with the signal before the limiter in a file, not an
    array: the same passes, the same limiter-only search, the same checks."""
    from rackhost.chain.mastering import (
        MAX_PASSES,
        TOLERANCE_LU,
        _Steer,
        _with_master,
    )
    from rackhost.chain.plugin import Plugin
    from rackhost.chain.target import (
        GAIN_SLOT_NAME,
        LoudnessTargetError,
        TargetReport,
        final_limiter,
        gain_slot_before,
    )

    chain = session.master.chain  # type: ignore[attr-defined]
    limiter_index, ceiling_param = final_limiter(chain)
    kept = gain_slot_before(chain, limiter_index)
    start_gain = float(kept.plugin.get("gain_db")) if kept is not None else 0.0
    limiter_slot = chain[limiter_index]
    steer = _Steer([s for s in chain.slots[:limiter_index] if s is not kept],
                   Plugin.builtin(GAIN_SLOT_NAME, gain_db=start_gain), limiter_slot.plugin.clone(), limiter_slot.mix,
                   ceiling_param)
    master_gain = session.master.gain_db  # type: ignore[attr-defined]
    silent = LoudnessTargetError("the master is silent or shorter than 0.4 s, so it has no loudness to set")
    fd, pre_path = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".pre.part", dir=path.parent)
    os.close(fd)
    try:
        pre_session = _with_master(session, steer.chain(0.0, target.true_peak_dbtp, with_limiter=False), 0.0)  # type: ignore[attr-defined]
        scratch = _FileSink(lambda channels: sf.SoundFile(pre_path, "w", int(session.sample_rate), channels,  # type: ignore[attr-defined]
                                                          "FLOAT", format="WAV"), pcm=False)
        try:
            pre = stream_mix(pre_session, scratch, **options)
        finally:
            scratch.close(2)
        if pre.meter.integrated_lufs() in (None, -math.inf):
            raise silent
        keep_mono = session.track_bounce and session.tracks[0].keep_mono  # type: ignore[attr-defined]
        search = _FileSearch(Path(pre_path), pre.frames, session.sample_rate, session.block_size, steer,  # type: ignore[attr-defined]
                             master_gain, target, keep_mono)
        gain, ceiling = start_gain, target.true_peak_dbtp  # type: ignore[attr-defined]
        bias_lu = 0.0
        passes = 1
        history: list[tuple[float, float, float]] = []
        while True:
            gain, ceiling, predicted = search.run(gain, ceiling, bias_lu)
            full = _with_master(session, steer.chain(gain, ceiling), master_gain)  # type: ignore[arg-type]
            result = write(lambda sink, full=full: stream_mix(full, sink, **options))
            passes += 1
            report = result.loudness()
            lufs = report.integrated_lufs
            if lufs is None or lufs == -math.inf:
                raise silent
            history.append((gain, lufs, report.true_peak_dbtp))
            over = report.true_peak_dbtp - target.true_peak_dbtp  # type: ignore[attr-defined]
            miss = abs(target.integrated_lufs - lufs)  # type: ignore[attr-defined]
            if (miss <= TOLERANCE_LU and over <= 0) or passes >= MAX_PASSES:
                break
            if search.unreachable is not None and miss > TOLERANCE_LU:
                break
            if math.isfinite(predicted):
                bias_lu += lufs - predicted
            if over > 0:
                ceiling = max(ceiling - over - 0.05, CEILING_FLOOR_DB)
    finally:
        if os.path.exists(pre_path):
            os.unlink(pre_path)
    result.target_report = TargetReport(target, report, gain, ceiling, passes, history, search.runs,  # type: ignore[arg-type]
                                        search.unreachable)
    return result


class _FileSearch:
    """The mastering search (:class:`rackhost.chain.mastering._Search`), with the signal before the limiter
    read from a file a segment at a time and each run of the limiter measured as it comes out."""

    def __init__(self, pre: Path, frames: int, sample_rate: int, block: int, steer: object, master_gain_db: float,
                 target: object, keep_mono: bool = False):
        self.pre = pre
        self.sample_rate = sample_rate
        self.block = block
        self.steer = steer
        self.target = target
        self.master_gain = np.float32(db_to_gain(master_gain_db))
        self.frames = frames
        self.latency = steer.limiter.latency(sample_rate, block)  # type: ignore[attr-defined]
        self.keep_mono = keep_mono
        self.runs = 0
        self.unreachable: str | None = None

    def limited(self, gain_db: float, ceiling_db: float) -> StreamMeter:
        """The master's output at this gain and ceiling, measured: the limiter run over the first pass's file."""
        from rackhost.chain.chain import Chain, Slot

        self.runs += 1
        steer = self.steer
        chain = Chain([Slot(steer.gain), Slot(steer.limiter, mix=steer.limiter_mix)])  # type: ignore[attr-defined]
        steer.gain.set("gain_db", gain_db)  # type: ignore[attr-defined]
        steer.limiter.set(steer.ceiling_param, ceiling_db)  # type: ignore[attr-defined]
        chain.reset()
        channels = sf.info(str(self.pre)).channels
        segment = self.block * max(1, READ_FRAMES // self.block)
        processor = chain.processor(channels, self.sample_rate, self.block, segment, self.keep_mono)
        meter = StreamMeter(self.sample_rate, processor.channels)
        total = math.ceil((self.frames + self.latency) / self.block) * self.block  # past the end by the latency
        pos = 0
        with sf.SoundFile(str(self.pre)) as file:
            while pos < total:
                n = min(segment, total - pos)
                block = np.zeros((channels, n), np.float32)
                read = file.read(n, dtype="float32", always_2d=True).T
                block[:, : read.shape[1]] = read
                out = processor(block)
                lo, hi = max(pos, self.latency), min(pos + n, self.latency + self.frames)
                if hi > lo:
                    kept = out[:, lo - pos: hi - pos]
                    meter.add(kept * self.master_gain if self.master_gain != 1.0 else kept)
                pos += n
        return meter

    def run(self, gain: float, ceiling: float, bias_lu: float) -> tuple[float, float, float]:
        """(gain, ceiling, predicted LUFS), found by the whole-file render's search, measured a block at a time."""
        from rackhost.chain.mastering import find_gain

        def loudness_at(gain_db: float, ceiling_db: float) -> tuple[float, Callable[[], float]]:
            meter = self.limited(gain_db, ceiling_db)
            return meter.integrated_lufs() or -math.inf, lambda: meter.report().true_peak_dbtp

        gain, ceiling, lufs, unreachable = find_gain(self.target, gain, ceiling, bias_lu, loudness_at)
        if unreachable is not None:
            self.unreachable = unreachable
        return gain, ceiling, lufs
