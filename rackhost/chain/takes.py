"""Takes: the recordings of a track, as files in the session's takes folder.

A take is two files the recorder writes side by side: the dry input and the
wet chain output, named ``{track}-take{NNN}-dry.wav`` and ``...-wet.wav``. A
rename keeps the number and adds a label (``vox-take003-chorus-dry.wav``), so
the pair is found by its number even if a rename were ever cut in half, and
a new recording never reuses a number still on disk. Takes are files, not
session data: the session names a take only when a track plays it (its
audio file), and the folder is the list.

Using a take makes the track play its dry file (one undo step): the track's
chain then plays the part as it was played, so it can be mixed; ``printed``
plays the wet file (the chain's sound baked in, as monitored) instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from rackhost.chain.history import Command
from rackhost.chain.source import AudioFileSource
from rackhost.errors import RackhostError

if TYPE_CHECKING:
    from rackhost.chain.history import Editor
    from rackhost.chain.track import Track

TAKES_FOLDER = "takes"  # beside the session file: where the window records
KINDS = ("dry", "wet")
LABEL_MAX = 40
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
_NUMBERED = re.compile(r"^take\s*0*(\d+)$", re.IGNORECASE)


class TakeError(RackhostError):
    """A take that cannot be found, renamed or deleted as asked."""


class TakeInUseError(TakeError):
    """Deleting a take a track plays: the mix would lose its part without a word."""

    def __init__(self, take: TakeFiles, tracks: list[str]):
        self.take = take
        self.tracks = tracks
        names = ", ".join(repr(t) for t in tracks)
        super().__init__(f"take {take.name!r} is the audio file of track {names}; give the track another take "
                         f"(or an input) first, then delete it")


def takes_folder(session_path: str | Path | None) -> Path:
    """Where a session's takes are recorded: ``takes`` beside its file (an unsaved one: in the working folder)."""
    base = Path(os.path.abspath(session_path)).parent if session_path is not None else Path.cwd()
    return base / TAKES_FOLDER


def safe_name(name: str) -> str:
    """A track's name as it starts its take files: letters, digits, ``-`` and ``_``."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "track"


def take_path(folder: Path, track: str, number: int, kind: str, ext: str = "wav", label: str = "") -> Path:
    """The file of one side (``dry``/``wet``) of take ``number`` of ``track``."""
    middle = f"-{label}" if label else ""
    return Path(folder) / f"{safe_name(track)}-take{number:03d}{middle}-{kind}.{ext}"


def _pattern(track: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(safe_name(track))}-take(\d{{3,}})(?:-(.+?))?-(dry|wet)\.(\w+)$")


@dataclass(frozen=True)
class TakeFiles:
    """One take on disk: its number, its label (empty until renamed) and its dry and wet files."""

    track: str
    number: int
    label: str
    dry: Path | None
    wet: Path | None

    @property
    def name(self) -> str:
        """What a user calls it: its label once renamed, else ``take003``."""
        return self.label or f"take{self.number:03d}"

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.dry, self.wet) if p is not None)

    def path(self, printed: bool = False) -> Path:
        """The file a track plays: the dry one (the chain plays it again), or the wet one if ``printed``."""
        path = self.wet if printed else self.dry
        if path is None:
            missing = "wet" if printed else "dry"
            raise TakeError(f"take {self.name!r} of track {self.track!r} has no {missing} file "
                            f"({', '.join(p.name for p in self.files)} only); use the "
                            f"{'dry' if printed else 'wet (printed)'} one")
        return path

    def info(self) -> sf._SoundFileInfo | None:
        """Its length, rate and width, read from the file's header (None if it cannot be read)."""
        try:
            return sf.info(str(self.files[0]))
        except (sf.LibsndfileError, RuntimeError, OSError):
            return None

    def seconds(self) -> float:
        info = self.info()
        return info.frames / info.samplerate if info is not None and info.samplerate else 0.0


def list_takes(folder: str | Path, track: str) -> list[TakeFiles]:
    """The takes of ``track`` in ``folder``, by number (none if the folder does not exist yet)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = _pattern(track)
    found: dict[int, dict[str, Any]] = {}
    for entry in os.scandir(folder):
        match = pattern.match(entry.name)
        if match is None or not entry.is_file():
            continue
        number, label, kind = int(match[1]), match[2] or "", match[3]
        take = found.setdefault(number, {"label": label})
        take[kind] = folder / entry.name
        if kind == "dry":  # a pair half-renamed (a crash between its two renames): the dry one names it
            take["label"] = label
    return [TakeFiles(track, n, t["label"], t.get("dry"), t.get("wet")) for n, t in sorted(found.items())]


def next_number(folder: str | Path, track: str) -> int:
    """The number the next take of ``track`` gets: after every take on disk, renamed ones too."""
    return max((t.number for t in list_takes(folder, track)), default=0) + 1


def find_take(folder: str | Path, track: str, take: str | int) -> TakeFiles:
    """A take by its name (a label, ``take003``, ``3``) or number."""
    takes = list_takes(folder, track)
    if not takes:
        raise TakeError(f"track {track!r} has no takes in {str(folder)!r}; arm it and record one first")
    wanted = str(take).strip()
    for t in takes:
        if t.label and t.label.lower() == wanted.lower():
            return t
    numbered = _NUMBERED.match(wanted) or re.match(r"^0*(\d+)$", wanted)
    if numbered:
        for t in takes:
            if t.number == int(numbered[1]):
                return t
    raise TakeError(f"track {track!r} has no take {wanted!r}; its takes: {', '.join(t.name for t in takes)}")


def check_label(label: object, take: TakeFiles | None = None, others: Sequence[TakeFiles] = ()) -> str:
    """A new name for a take: letters, digits, spaces, ``-``, ``_`` and ``.``; unique among the track's takes."""
    if not isinstance(label, str):
        raise TypeError(f"a take's name must be text; got {label!r}")
    label = label.strip()
    if not label:
        raise TakeError("a take's new name is empty; type a name such as 'chorus' or 'keeper'")
    if len(label) > LABEL_MAX:
        raise TakeError(f"take name {label!r} is {len(label)} characters; keep it to {LABEL_MAX}")
    if not _LABEL.match(label):
        raise TakeError(f"take name {label!r} has characters a file name cannot safely hold; use letters, digits, "
                        f"spaces, '-', '_' and '.', starting with a letter or digit")
    if _NUMBERED.match(label):
        raise TakeError(f"take name {label!r} looks like a take's number; pick a word ('chorus', 'keeper')")
    for other in others:
        if other.number != getattr(take, "number", None) and other.label.lower() == label.lower():
            raise TakeError(f"track {other.track!r} already has a take named {label!r}; pick another name")
    return label


def used_by(tracks: list[Track], take: TakeFiles) -> list[Track]:
    """The tracks that play one of ``take``'s files."""
    files = {os.path.abspath(p) for p in take.files}
    return [t for t in tracks
            if getattr(t.source, "path", None) is not None and os.path.abspath(t.source.path) in files]


def use_take(editor: Editor, track: Track, take: TakeFiles, printed: bool = False) -> AudioFileSource:
    """Make ``track`` play ``take`` (its dry file; ``printed``: its wet one): one undo step."""
    source = AudioFileSource(take.path(printed))
    editor.set_source(track, source)
    return source


def rename_take(take: TakeFiles, label: str, tracks: Sequence[Track] = ()) -> TakeFiles:
    """Give ``take`` a name: both files renamed together, a track playing it follows the new name.

    Each rename is atomic; if the second fails, the first is put back, so the
    pair never ends up under two names. Refused if a file of the new name is
    already there. Not an undo step (files on disk are not session edits);
    the session still has to be saved for its file to name the take anew.
    """
    folder = take.files[0].parent
    label = check_label(label, take, list_takes(folder, take.track))
    moves = []
    for kind, old in (("dry", take.dry), ("wet", take.wet)):
        if old is None:
            continue
        new = take_path(folder, take.track, take.number, kind, old.suffix.lstrip("."), label)
        if new != old and new.exists():
            raise TakeError(f"cannot rename take {take.name!r} to {label!r}: {str(new)!r} exists; "
                            f"pick another name")
        moves.append((old, new))
    playing = used_by(list(tracks), take)
    done: list[tuple[Path, Path]] = []
    try:
        for old, new in moves:
            os.rename(old, new)
            done.append((old, new))
    except OSError as err:
        for old, new in reversed(done):
            os.rename(new, old)
        raise TakeError(f"cannot rename take {take.name!r} to {label!r}: {err}") from err
    renamed = {os.path.abspath(old): new for old, new in done}
    for track in playing:  # the same source object: the undo history keeps pointing at the file, renamed
        source = track.source
        source.path = renamed[os.path.abspath(source.path)]
        source.name = source.path.name
    moved = dict(done)
    return TakeFiles(take.track, take.number, label, moved.get(take.dry, take.dry) if take.dry else None,
                     moved.get(take.wet, take.wet) if take.wet else None)


@dataclass
class FollowRename(Command):
    """An undo step's part: a renamed track's take files renamed with it, so its takes stay listed under it.

    Each take keeps its number and label; a number the new name's takes
    already use (a deleted track's leftovers) gives the moved take the next
    free one. Tracks playing a moved file follow it (the same source object,
    as :func:`rename_take` does). Undo moves the files back. A rename that
    fails half way puts back what it moved and raises :class:`TakeError`, so
    the track keeps its old name and no take is split between two.
    """

    folder: Path
    old: str
    new: str
    tracks: Sequence[Track] = ()
    label: str = "takes follow the track"
    moves: list[tuple[Path, Path]] = field(default_factory=list)

    def do(self) -> None:
        self.moves = []
        if safe_name(self.old) == safe_name(self.new):
            return  # the same files ("lead vox" and "lead_vox" both write lead_vox-take...)
        taken = {t.number for t in list_takes(self.folder, self.new)}
        moves = []
        for take in list_takes(self.folder, self.old):
            number = take.number if take.number not in taken else max(taken) + 1
            taken.add(number)
            for kind, old in (("dry", take.dry), ("wet", take.wet)):
                if old is not None:
                    moves.append((old, take_path(self.folder, self.new, number, kind, old.suffix.lstrip("."),
                                                 take.label)))
        self.moves = self._move(moves, f"cannot rename the takes of track {self.old!r} to {self.new!r}")

    def undo(self) -> None:
        back = [(new, old) for old, new in reversed(self.moves) if new.exists()]  # one deleted since: gone
        self._move(back, f"cannot give the takes of track {self.new!r} back to {self.old!r}")
        self.moves = []

    def _move(self, moves: list[tuple[Path, Path]], failed: str) -> list[tuple[Path, Path]]:
        done: list[tuple[Path, Path]] = []
        try:
            for old, new in moves:
                if new.exists():
                    raise TakeError(f"{failed}: {str(new)!r} exists; move it out of the takes folder first")
                os.rename(old, new)
                done.append((old, new))
        except (OSError, TakeError) as err:
            for old, new in reversed(done):
                os.rename(new, old)
            if isinstance(err, TakeError):
                raise
            raise TakeError(f"{failed}: {err}") from err
        moved = {os.path.abspath(old): new for old, new in done}
        for track in self.tracks:
            source = track.source
            path = getattr(source, "path", None)
            if path is not None and os.path.abspath(path) in moved:
                source.path = moved[os.path.abspath(path)]
                source.name = source.path.name
        return done


def delete_take(take: TakeFiles, tracks: Sequence[Track] = ()) -> None:
    """Delete both files of ``take``; refused (:class:`TakeInUseError`) if one of ``tracks`` plays it.

    Refused rather than clearing the track's audio file: that would change the
    mix as a side effect, and the undo step would bring back a file that is
    gone. Choose another take for the track first (one click), then delete.
    """
    playing = used_by(list(tracks), take)
    if playing:
        raise TakeInUseError(take, [t.name for t in playing])
    for path in take.files:
        try:
            path.unlink()
        except FileNotFoundError:
            pass  # already gone: the take is deleted either way
        except OSError as err:
            raise TakeError(f"cannot delete {str(path)!r} of take {take.name!r}: {err}") from err


def waveform_peaks(path: str | Path, columns: int, block_frames: int = 65536) -> np.ndarray:
    """(columns, 2) min and max of the file's channels in each column's span of frames, -1..1.

    Read in blocks, so a long take costs its length in reading once, never its
    length in memory; a GUI keeps the result (:class:`PeakCache`).
    """
    if columns < 1:
        raise ValueError(f"a waveform needs at least one column; got {columns!r}")
    with sf.SoundFile(str(path)) as f:
        frames = f.frames
        out = np.zeros((columns, 2), np.float32)
        if frames <= 0:
            return out
        edges = np.linspace(0, frames, columns + 1).astype(np.int64)
        lo = np.full(columns, np.inf, np.float32)
        hi = np.full(columns, -np.inf, np.float32)
        start = 0
        for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            n = len(block)
            # The columns this block spans, and where each begins inside it (a column narrower than a
            # frame begins where the next does, and gets that frame: reduceat's rule for equal indices).
            first = int(np.searchsorted(edges, start, side="right")) - 1
            last = min(int(np.searchsorted(edges, start + n - 1, side="right")) - 1, columns - 1)
            cols = np.arange(first, last + 1)
            begins = np.maximum(edges[cols], start) - start
            lo[cols] = np.minimum(lo[cols], np.minimum.reduceat(block.min(axis=1), begins))
            hi[cols] = np.maximum(hi[cols], np.maximum.reduceat(block.max(axis=1), begins))
            start += n
    out[:, 0], out[:, 1] = lo, hi
    return out


class PeakCache:
    """Waveform peaks per (file, size, modification time, columns): read once, redrawn from memory."""

    def __init__(self) -> None:
        self._peaks: dict[tuple[str, int, int, int], np.ndarray] = {}
        self.reads = 0  # files read so far (a test proves a redraw reads nothing)

    def peaks(self, path: str | Path, columns: int) -> np.ndarray:
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, columns)
        if key not in self._peaks:
            self._peaks[key] = waveform_peaks(path, columns)
            self.reads += 1
        return self._peaks[key]
