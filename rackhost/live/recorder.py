"""Recording: the audio callback copies blocks into ring buffers; a writer thread puts them on disk.

The callback never waits: if the writer falls behind and a ring is full, the
block is dropped and counted (reported to the user, never silent). The writer
flushes every file about once a second and rewrites its header, so a crash
or power loss leaves a readable file up to the last flush.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from rackhost.chain.takes import next_number, take_path
from rackhost.errors import RackhostError

RING_SECONDS = 4.0  # how far the writer may fall behind before blocks are dropped
FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.05
# libsndfile's SFC_UPDATE_HEADER_NOW: soundfile does not expose it, and without it
# a WAV's header says 0 frames until the file is closed.
_SFC_UPDATE_HEADER_NOW = 0x1060


class RecordingError(RackhostError):
    pass


class Ring:
    """Single-producer (the callback), single-consumer (the writer) ring of audio frames."""

    def __init__(self, channels: int, frames: int):
        self.buffer = np.zeros((frames, channels), np.float32)
        self.capacity = frames
        self.written = 0  # total frames the callback put in (only the callback writes this)
        self.read = 0  # total frames the writer took out (only the writer writes this)
        self.dropped = 0  # frames the callback could not fit

    def push(self, block: np.ndarray) -> None:
        """Called from the audio callback with (channels, frames): copy, or drop if full. Never waits."""
        n = block.shape[1]
        if self.written - self.read + n > self.capacity:
            self.dropped += n
            return
        start = self.written % self.capacity
        end = start + n
        if end <= self.capacity:
            self.buffer[start:end] = block.T
        else:
            split = self.capacity - start
            self.buffer[start:] = block[:, :split].T
            self.buffer[: end - self.capacity] = block[:, split:].T
        self.written += n  # published last, so the writer never reads a half-copied block

    def pull(self) -> np.ndarray:
        """Everything written since the last pull (writer thread)."""
        available = self.written - self.read
        if available <= 0:
            return self.buffer[:0]
        start = self.read % self.capacity
        end = start + available
        if end <= self.capacity:
            out = self.buffer[start:end].copy()
        else:
            out = np.concatenate((self.buffer[start:], self.buffer[: end - self.capacity]))
        self.read += available
        return out


@dataclass
class Take:
    """One track's recording: the dry input and the wet chain output, each in its own file."""

    track: str
    dry_path: Path
    wet_path: Path
    dry: Ring
    wet: Ring
    wet_skip: int  # the chain's latency: the first frames of wet are dropped so wet lines up with dry
    frames_written: dict[str, int] = field(default_factory=lambda: {"dry": 0, "wet": 0})
    wet_skipped: int = 0  # of those, dropped so far

    def report(self) -> TakeReport:
        """What the take holds against what the callback handed it (call once the recorder has stopped)."""
        return TakeReport(self.track, str(self.dry_path), str(self.wet_path), self.frames_written["dry"],
                          self.frames_written["wet"], self.dry.written, self.wet.written - self.wet_skipped,
                          self.dry.dropped + self.wet.dropped)


@dataclass(frozen=True)
class TakeReport:
    """A finished take, for a process other than the engine's (which keeps the :class:`Take`)."""

    track: str
    dry_path: str
    wet_path: str
    dry_frames: int  # written to the dry file
    wet_frames: int
    dry_recorded: int  # frames the callback handed the recorder
    wet_recorded: int  # the same for wet, less the chain's latency skipped at its start
    dropped: int  # frames the callback could not hand over (the writer fell RING_SECONDS behind)

    @property
    def complete(self) -> bool:
        """Every frame the callback recorded is in the files: nothing dropped, nothing left unwritten."""
        return self.dropped == 0 and (self.dry_frames, self.wet_frames) == (self.dry_recorded, self.wet_recorded)


class Recorder:
    """Owns the take files and the writer thread."""

    def __init__(self, folder: Path, sample_rate: int, subtype: str = "PCM_24", file_format: str = "WAV"):
        self.folder = folder
        self.sample_rate = sample_rate
        self.subtype = subtype
        self.file_format = file_format
        self.takes: list[Take] = []
        self.error: str | None = None
        self._files: dict[int, tuple[sf.SoundFile, sf.SoundFile]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def prepare(self, tracks: list[tuple[str, int, int]] | list[tuple[str, int, int, int]]) -> list[Take]:
        """Open files for (track name, channels, chain latency[, wet channels]); names never overwrite an earlier take.

        The wet take is as wide as the chain's output (a mono input widened by a
        stereo plug-in records a stereo wet take); by default as the input.
        """
        if not self.folder.is_dir():
            raise RecordingError(f"recording folder {str(self.folder)!r} does not exist; create it first")
        ring_frames = int(RING_SECONDS * self.sample_rate)
        takes = []
        for name, channels, latency, *wet_width in tracks:
            wet_channels = wet_width[0] if wet_width else channels
            number = next_number(self.folder, name)
            ext = {"WAV": "wav", "RF64": "wav", "W64": "w64"}.get(self.file_format, "wav")
            dry, wet = (take_path(self.folder, name, number, kind, ext) for kind in ("dry", "wet"))
            take = Take(name, dry, wet, Ring(channels, ring_frames), Ring(wet_channels, ring_frames), latency)
            try:
                files = tuple(
                    sf.SoundFile(str(p), "x", self.sample_rate, width, self.subtype, format=self.file_format)
                    for p, width in ((dry, channels), (wet, wet_channels))
                )
            except (OSError, sf.LibsndfileError) as err:
                raise RecordingError(f"cannot create take files in {str(self.folder)!r}: {err}") from err
            self._files[len(takes)] = files  # type: ignore[assignment]
            takes.append(take)
        self.takes = takes
        return takes

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rackhost-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is left and close the files."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for dry, wet in self._files.values():
            for f in (dry, wet):
                if not f.closed:
                    f.close()
        self._files.clear()

    def dropped_frames(self) -> int:
        return sum(t.dry.dropped + t.wet.dropped for t in self.takes)

    def _run(self) -> None:
        last_flush = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            self._drain()
            if time.monotonic() - last_flush >= FLUSH_SECONDS:
                self._flush()
                last_flush = time.monotonic()
            if stopping or self.error:
                self._flush()
                return
            time.sleep(POLL_SECONDS)  # idle between polls: the callback cannot signal without a lock

    def _drain(self) -> None:
        for i, take in enumerate(self.takes):
            dry_file, wet_file = self._files[i]
            for ring, f, kind in ((take.dry, dry_file, "dry"), (take.wet, wet_file, "wet")):
                frames = ring.pull()
                if kind == "wet" and take.wet_skip:
                    skip = min(take.wet_skip, len(frames))
                    frames, take.wet_skip = frames[skip:], take.wet_skip - skip
                    take.wet_skipped += skip
                if len(frames) and not self.error:
                    try:
                        f.write(frames)
                        take.frames_written[kind] += len(frames)
                    except (OSError, sf.LibsndfileError, RuntimeError) as err:
                        # A full disk: stop recording, keep what is on disk readable.
                        self.error = f"recording stopped: could not write {f.name!r} ({err})"

    def _flush(self) -> None:
        for dry, wet in self._files.values():
            for f in (dry, wet):
                if f.closed:
                    continue
                try:
                    f.flush()
                    sf._snd.sf_command(f._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)
                except (OSError, RuntimeError, sf.LibsndfileError):
                    pass
