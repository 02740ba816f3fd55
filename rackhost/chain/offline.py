"""The offline block loop: a session's mix to an array, through the same block engine as live.

Tracks are independent until the master, so each segment's tracks are spread
over worker threads (one contiguous chunk of tracks per core: pedalboard
releases the GIL while it processes), then summed in track order and run
through the master chain on the calling thread.

This renders the session as it stands; :func:`rackhost.chain.render.render`
is what users call (it also steers onto the master's loudness target).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from rackhost.chain.dsp import db_to_gain
from rackhost.chain.loudness import LoudnessReport, measure
from rackhost.chain.midi.instrument import InstrumentPlayer, InstrumentSource, reseed_c_random
from rackhost.chain.mixer import MixSnapshot, TrackStrip, bounced
from rackhost.chain.plugin import MissingPlugin
from rackhost.chain.track import Track

if TYPE_CHECKING:
    from rackhost.chain.session import Session
    from rackhost.chain.stems import Stem, StemWriter
    from rackhost.chain.target import TargetReport

ProgressCallback = Callable[[int, int], None]

# About a third of a second at 48 kHz: long enough that handing work to threads
# costs nothing, short enough that memory stays small for any session length.
SEGMENT_TARGET_FRAMES = 16384
DEFAULT_MAX_TAIL_SECONDS = 30.0
TAIL_THRESHOLD_DB = -90.0
# A tail ends after this long below the threshold: the gaps between a slow delay's
# echoes must not end it early.
TAIL_HOLD_SECONDS = 1.0


@dataclass
class RenderResult:
    audio: np.ndarray  # (channels, frames) float32: stereo, or mono for a mono file bounced mono
    sample_rate: int
    latency: int  # samples trimmed from the start so the output lines up with the input
    tail_frames: int  # frames rendered past the end of the longest source
    notes: list[str] = field(default_factory=list)
    clipped_samples: int = 0
    path: Path | None = None
    target_report: TargetReport | None = None  # set when rendered to a loudness target
    stems: list[Stem] = field(default_factory=list)  # the stem files written with the mix, if asked for

    def loudness(self) -> LoudnessReport:
        return measure(self.audio, self.sample_rate)

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / self.sample_rate


def render_mix(
    session: Session,
    *,
    tail: bool = True,
    max_tail_seconds: float = DEFAULT_MAX_TAIL_SECONDS,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    stems: StemWriter | None = None,
) -> RenderResult:
    """Render the session as it stands (no loudness target) to a stereo array, or, for a track bounce
    (``session.track_bounce``), to an array as wide as the track's file after its chain and the master's
    (see :func:`mixer.bounced`).

    Plug-in state is reset first, so two renders of one session are identical.
    With ``tail``, rendering goes on past the end of the sources until the
    output has stayed below -90 dBFS for a second (reverb and delay tails), at
    most ``max_tail_seconds``, and ends at the last sample above that level.
    The master's total latency is trimmed from the start.

    ``stems``: also take every track's and bus's stem (:mod:`rackhost.chain.stems`);
    the render then also goes on until every stem has rung out.
    """
    sr = session.sample_rate
    block = session.block_size
    segment = block * max(1, SEGMENT_TARGET_FRAMES // block)
    session.reset()
    snap = session.snapshot(max_segment=segment)
    if snap.automation is not None:
        snap.automation.prime()  # automated slots are cut into pieces: prepare them for whole blocks first
    if session.track_bounce:
        if stems is not None:
            raise ValueError("a track bounce has no stems: it is one file through its chain and the master's")
        snap = bounced(snap, session.tracks[0], session.master)
    if stems is not None:
        stems.begin(snap)
    # A live-input track has nothing to play offline: it renders silence.
    sources = [_offline_source(session.tracks[s.index], sr, block, segment) for s in snap.tracks]
    notes = list(snap.notes) + [t.source.note for t in session.tracks if t.source is not None and t.source.note]
    if any(isinstance(s, InstrumentSource) for s in sources):
        reseed_c_random()  # instruments that pluck with rand() (Kars) play the same notes the same way
    # A muted track still runs (so it is timed like the others), but the render is as long as what is heard.
    length = max((s.frames if isinstance(s, InstrumentSource) else s.shape[1]
                  for s, heard in zip(sources, snap.audible) if heard), default=0)
    latency = snap.latency
    body = length + latency
    limit = body + (int(max_tail_seconds * sr) if tail else 0)
    capacity = math.ceil(limit / segment) * segment + segment
    out = np.zeros((2, capacity), np.float32)
    threshold = db_to_gain(TAIL_THRESHOLD_DB)
    hold = int(TAIL_HOLD_SECONDS * sr)
    # The quiet hold is counted from the end of the sources at the earliest: a tail
    # that starts right at the end (a body of whole blocks) is searched like any other.
    last_loud = body - 1

    with _TrackRenderer(snap, sources, threads) as tracks:
        mix = np.zeros((2, segment), np.float32)
        pos = 0
        while pos < limit:
            # Segments are whole blocks; the one that reaches the end of the sources
            # stops there (rounded up to a block) rather than rendering a full segment past it.
            n = segment if pos >= body else min(segment, -(-(body - pos) // block) * block)
            outputs = tracks.render(pos, n)
            seg_out = out[:, pos : pos + n]
            # the tracks' outputs are now after their faders (a track keyed by a bus rendered among the busses)
            mixed = snap.mix_tracks(outputs, mix[:, :n], pos, tracks.render_row)
            stem_loud = stems.write(pos, n, outputs, snap, threshold) if stems is not None else -1
            snap.master.render(mixed, seg_out, pos)
            if tail and pos + n > body:  # a segment reaching past the sources: all of it is searched
                loud = np.flatnonzero(np.max(np.abs(seg_out), axis=0) > threshold)
                if loud.size:
                    last_loud = max(last_loud, pos + int(loud[-1]))
                last_loud = max(last_loud, stem_loud)
            pos += n
            if progress is not None:
                progress(min(pos, limit), max(body, min(limit, last_loud + segment)))
            # Stop once the sources are through and the output has stayed quiet long enough.
            if pos >= body and (not tail or pos - (last_loud + 1) >= hold):
                break

    end = min(last_loud + 1, limit) if tail else body
    if tail and last_loud + 1 > limit and limit > body:  # still ringing where the tail had to stop
        level = float(np.max(np.abs(out[:, max(body, limit - sr // 100) : limit])))
        notes.append(f"the tail was cut at the {max_tail_seconds:g} s limit while still at "
                     f"{20 * math.log10(max(level, 1e-12)):.1f} dBFS (a tail ends below {TAIL_THRESHOLD_DB:g} "
                     f"dBFS); raise --max-tail to let it ring out")
    audio = out[: snap.master.width, latency:end]
    return RenderResult(np.ascontiguousarray(audio), sr, latency, max(0, end - body), notes)


def run_range(session: Session, snap: MixSnapshot, start: int, end: int, threads: int | None = None) -> None:
    """Run ``snap`` (a snapshot of ``session``, its plug-ins reset) from frame ``start`` to ``end`` (rounded up
    to whole blocks) as :func:`render_mix` does, keeping nothing: for what a stage takes on the way (a strip's
    audition measured, :mod:`rackhost.chain.audition_measure`)."""
    sr, block, segment = session.sample_rate, session.block_size, snap.max_segment
    if snap.automation is not None:
        snap.automation.prime()
    sources = [_offline_source(session.tracks[s.index], sr, block, segment) for s in snap.tracks]
    if any(isinstance(s, InstrumentSource) for s in sources):
        reseed_c_random()
    mix = np.zeros((2, segment), np.float32)
    out = np.zeros((2, segment), np.float32)
    with _TrackRenderer(snap, sources, threads) as tracks:
        pos = start
        while pos < end:
            n = min(segment, -(-(end - pos) // block) * block)
            mixed = snap.mix_tracks(tracks.render(pos, n), mix[:, :n], pos, tracks.render_row)
            snap.master.render(mixed, out[:, :n], pos)
            pos += n


def _offline_source(track: Track, sample_rate: int, block: int, segment: int) -> np.ndarray | InstrumentSource:
    if track.instrument is not None and not isinstance(track.instrument, MissingPlugin):
        return InstrumentSource(InstrumentPlayer(track.instrument, sample_rate, block, segment), track.midi,
                                track.midi_channel)
    if track.source is not None:
        return track.source.audio(sample_rate)
    return np.zeros((track.channels, 0), np.float32)


class _TrackRenderer:
    """Runs the track strips of one segment, spread over threads by contiguous chunks; then the keyed tracks."""

    def __init__(self, snap: MixSnapshot, sources: list[np.ndarray], threads: int | None):
        self.snap = snap
        self.sources = sources
        self._played: list[np.ndarray | None] = [None] * len(sources)
        self._segment = (0, 0)
        self.segment = snap.max_segment
        self.outputs = np.zeros((len(snap.tracks), 2, self.segment), np.float32)  # before the faders
        self._inputs = [np.zeros((s.channels, self.segment), np.float32) for s in snap.tracks]
        free, self.keyed = snap.render_order()  # keyed tracks render after the others, on this thread, in order
        workers = min(threads or os.cpu_count() or 1, len(free))
        self.chunks = [list(c) for c in np.array_split(np.array(free, np.intp), workers)] if workers else []
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def __enter__(self) -> _TrackRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self.snap.automation is not None:  # envelopes moved plug-in parameters: back to the session's values
            self.snap.automation.restore()

    def render(self, pos: int, n: int) -> np.ndarray:
        """Render ``n`` frames of every track from ``pos``; returns their outputs, (tracks, 2, n), pre-fader."""
        # Instruments play on this thread, in track order (they may share the C library's rand()).
        self._played = [s.segment(pos, n) if isinstance(s, InstrumentSource) else None for s in self.sources]
        if self._pool is None:
            for chunk in self.chunks:
                self._render_chunk(chunk, pos, n)
        else:
            for future in [self._pool.submit(self._render_chunk, chunk, pos, n) for chunk in self.chunks]:
                future.result()
        self._render_chunk(self.keyed, pos, n)
        self._segment = (pos, n)
        return self.outputs[:, :, :n]

    def render_row(self, i: int) -> None:
        """Render track ``i`` for the segment :meth:`render` last did: a track keyed by a bus, which the router
        renders once that bus has run."""
        pos, n = self._segment
        self._render_chunk([i], pos, n)

    def _render_chunk(self, chunk: list[int], pos: int, n: int) -> None:
        for i in chunk:
            strip: TrackStrip = self.snap.tracks[i]
            strip.render(self._source_segment(i, pos, n), self.outputs[i, :, :n], pos)

    def _source_segment(self, i: int, pos: int, n: int) -> np.ndarray:
        if self._played[i] is not None:
            return self._played[i]
        source = self.sources[i]
        if pos + n <= source.shape[1]:
            return source[:, pos : pos + n]
        buf = self._inputs[i][:, :n]
        available = max(0, source.shape[1] - pos)
        buf[:, :available] = source[:, pos : pos + available]
        buf[:, available:] = 0.0
        return buf
