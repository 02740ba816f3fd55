"""Stems: every track and bus of a session as a file of its own, written as the mix renders.

A stem is what a strip feeds its destination: its chain's output after its
fader, pan, mute and solo, on its output path into the master or into a bus.
A track routed into the drum bus has a stem of its own (the dry kick, as the
bus receives it), and the drum bus has one too (the drums after the bus's
chain and fader), as mastering engineers expect. A send is not in the stem of
the strip it leaves: it is heard in the stem of the bus it feeds (the reverb
return). So stems of tracks and busses that all go to the master sum to the
mix before the master's chain and gain; stems of tracks inside a bus add up to
what enters that bus.

Every stem is lined up with the mix: sample ``k`` of any stem is the same
moment as sample ``k`` of the mix file (each strip's own latency, and that of
the paths before it, is trimmed), and every stem is as long as the mix. The
render goes on until the mix and every stem have rung out, so a quiet master
cannot cut a bus's reverb tail short.

The stems are streamed to raw float files beside their final names while the
render runs (a long session's stems never sit in memory), and written in the
mix's format and bit depth once the render's length is known. A render to a
loudness target runs several passes; each pass starts the stems afresh, and
the last one is kept.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Self

import numpy as np
import soundfile as sf

from rackhost.atomic import replacing
from rackhost.errors import AudioFileError

if TYPE_CHECKING:
    from rackhost.chain.mixer import MixSnapshot
    from rackhost.chain.session import Session

# Characters a file name on Windows, macOS or Linux cannot hold, and control characters.
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_NAME = 120
_COPY_FRAMES = 1 << 16


@dataclass
class Stem:
    """One stem file: the strip it holds (``kind`` "track" or "bus", and its name) and where it was written."""

    kind: str
    name: str
    path: Path
    clipped_samples: int = 0  # samples above 0 dBFS clipped in a fixed-point file


def safe_file_name(name: str) -> str:
    """``name`` as a file name every common file system takes: unsafe characters become "_", no leading or
    trailing dots or spaces, no device name Windows reserves, at most :data:`MAX_NAME` characters."""
    text = _UNSAFE.sub("_", name).strip(" .")[:MAX_NAME].strip(" .")
    if text.split(".")[0].lower() in _RESERVED:
        text = f"_{text}"
    return text


def stem_files(session: Session, folder: str | Path, suffix: str) -> list[Stem]:
    """Each track's and bus's stem, in session order (tracks, then busses), with a unique file in ``folder``.

    Names that would clash (a track and a bus both called "drums", or names
    that differ only in case or unsafe characters) are told apart: a bus by
    " (bus)", then by a number.
    """
    folder = Path(folder)
    taken: set[str] = set()
    stems = []
    strips = [("track", t.name) for t in session.tracks] + [("bus", b.name) for b in session.busses]
    for number, (kind, name) in enumerate(strips, 1):
        base = safe_file_name(name) or f"{kind} {number}"
        candidates = [base] + ([f"{base} (bus)"] if kind == "bus" else [])
        candidates += [f"{base} ({k})" for k in range(2, len(strips) + 2)]
        chosen = next(c for c in candidates if c.lower() not in taken)
        taken.add(chosen.lower())
        stems.append(Stem(kind, name, folder / f"{chosen}{suffix}"))
    return stems


def prepare_stem_folder(folder: str | Path) -> Path:
    """``folder``, created if need be and proven writable before any render work, or an :class:`AudioFileError`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AudioFileError(f"stems folder {str(folder)!r} is a file, not a folder; give a folder "
                             f"(it is created if need be)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root even on a read-only mount: writing a file is the only sure test.
        fd, probe = tempfile.mkstemp(prefix=".rackhost-stems-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise AudioFileError(f"cannot write stems into {str(folder)!r} ({err.strerror or err}); "
                             f"give a folder you can write to") from None
    return folder


class StemWriter:
    """Collects every strip's stem during a render (:func:`rackhost.chain.offline.render_mix` drives it), then
    writes the files (:meth:`finish`). Use it as a context manager: its temporary files go, whatever happens."""

    def __init__(self, stems: list[Stem], sample_rate: int, fmt: str, subtype: str):
        """``fmt`` and ``subtype``: libsndfile's format ("WAV", "FLAC", "AIFF") and subtype ("PCM_24", ...)."""
        self.stems = stems
        self.sample_rate = sample_rate
        self.format = fmt
        self.subtype = subtype
        self._raw: list[BinaryIO] = []
        self._raw_paths: list[str] = []
        self._taps: list[tuple[int, int | None, int, int | None]] = []  # per stem: track, bus row, late, edge
        self._written: list[int] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def begin(self, snap: MixSnapshot) -> None:
        """Start (or start again, for another pass) on ``snap``, the snapshot the render runs."""
        self._close()
        self._taps = _taps(snap)
        if len(self._taps) != len(self.stems):
            raise ValueError(f"{len(self.stems)} stems for a session of {len(self._taps)} strips")
        folder = self.stems[0].path.parent if self.stems else Path(".")
        for stem in self.stems:
            fd, name = tempfile.mkstemp(prefix=f".{stem.path.name}.", suffix=".stem", dir=folder)
            self._raw.append(os.fdopen(fd, "w+b"))
            self._raw_paths.append(name)
        self._written = [0] * len(self.stems)

    def write(self, pos: int, n: int, strips: np.ndarray, snap: MixSnapshot, threshold: float) -> int:
        """Take frames ``pos`` .. ``pos + n`` of every strip, as each feeds its destination.

        ``strips``: the tracks' outputs after their faders, (tracks, 2, n); the
        busses' are read from the router. Returns the last frame in the mix's
        time (the render's, before its latency is trimmed) at which any stem is
        above ``threshold``, or -1.
        """
        router = snap.router
        last = -1
        for k, (track, row, late, edge) in enumerate(self._taps):
            signal = strips[track] if track >= 0 else router.outputs[row, :, :n]  # type: ignore[union-attr]
            if edge is not None:
                gain = router.edge_gains[edge]  # type: ignore[union-attr]
                if gain != 1.0:
                    signal = signal * gain
            skip = max(0, late - pos)  # before the strip's first sample: its own and its paths' latency
            if skip < n:
                part = signal[:, skip:]
                self._raw[k].write(np.ascontiguousarray(part.T, dtype=np.float32).tobytes())
                self._written[k] += part.shape[1]
                loud = np.flatnonzero(np.max(np.abs(part), axis=0) > threshold)
                if loud.size:
                    # A strip's sample lands in the mix as late as the master's input is late (minus its own).
                    last = max(last, pos + skip + int(loud[-1]) + snap.latency - late)
        return last

    def finish(self, frames: int) -> list[Stem]:
        """Write every stem, ``frames`` long (the mix's length), in the format its file name asks for."""
        for stem, raw, written in zip(self.stems, self._raw, self._written):
            raw.flush()
            stem.clipped_samples = 0
            try:
                with replacing(stem.path) as tmp, sf.SoundFile(tmp, "w", self.sample_rate, 2, self.subtype,
                                                               format=self.format) as out:
                    data = np.memmap(raw, np.float32, "r", shape=(written, 2)) if written else None
                    for start in range(0, frames, _COPY_FRAMES):
                        stop = min(frames, start + _COPY_FRAMES)
                        block = np.zeros((stop - start, 2), np.float32)
                        have = max(0, min(stop, written) - start)
                        if have:
                            block[:have] = data[start : start + have]  # type: ignore[index]
                        if self.subtype.startswith("PCM"):
                            over = np.abs(block) > 1.0
                            stem.clipped_samples += int(np.count_nonzero(over))
                            np.clip(block, -1.0, 1.0, out=block)
                        out.write(block)
                    del data
            except (OSError, RuntimeError, sf.LibsndfileError) as err:
                raise AudioFileError(f"could not write stem {str(stem.path)!r}: {err}") from err
        self._close()
        return self.stems

    def _close(self) -> None:
        for raw in self._raw:
            raw.close()
        for name in self._raw_paths:
            try:
                os.unlink(name)
            except OSError:
                pass
        self._raw, self._raw_paths = [], []


def _taps(snap: MixSnapshot) -> list[tuple[int, int | None, int, int | None]]:
    """Where each strip's stem is read: (track index or -1, bus row or None, its output's latency in the
    render, the gain index of its output edge or None). Tracks first, then busses in session order."""
    taps: list[tuple[int, int | None, int, int | None]] = []
    router = snap.router
    late = [strip.wait + strip.chain.latency + strip.compensation for strip in snap.tracks]
    if router is None:
        return [(i, None, late[i], None) for i in range(len(snap.tracks))]
    # Graph order: every strip's output edge comes first among its edges.
    output_edge: dict[tuple[bool, int], int] = {}
    for e, bus_row in zip(router.edges, router.edge_sources):
        output_edge.setdefault((bus_row is not None, e.source), e.gain)
    bus_late = [0] * len(router.busses)
    for bus in router.run:  # after every strip that feeds it
        into = [(e, b) for e, b in zip(router.edges, router.edge_sources) if e.dest == bus.row]
        arrival = 0
        if into:
            e, b = into[0]  # every path into a bus arrives aligned with the others
            arrival = (late[e.source] if b is None else bus_late[b]) + (e.delay.delay if e.delay else 0)
        bus_late[bus.row] = arrival + bus.chain.latency
    taps += [(i, None, late[i], output_edge[(False, i)]) for i in range(len(snap.tracks))]
    taps += [(-1, j, bus_late[j], output_edge[(True, j)]) for j in range(len(router.busses))]
    return taps
