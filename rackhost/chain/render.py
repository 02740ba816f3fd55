"""Offline render: a session to an array or a file, steered onto the master's loudness target when it has one.

The render takes a session and leaves it as it was; the session itself knows
nothing of rendering. The block loop is :mod:`rackhost.chain.offline`, the
loudness-target search :mod:`rackhost.chain.mastering`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from rackhost.atomic import replacing
from rackhost.chain.mastering import render_to_target
from rackhost.chain.offline import DEFAULT_MAX_TAIL_SECONDS, ProgressCallback, RenderResult, render_mix
from rackhost.chain.session import Session
from rackhost.chain.stems import StemWriter, prepare_stem_folder, stem_files
from rackhost.errors import AudioFileError

FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aiff": "AIFF", ".aif": "AIFF"}
SUBTYPES = {
    ("WAV", 16): "PCM_16", ("WAV", 24): "PCM_24", ("WAV", 32): "FLOAT",
    ("FLAC", 16): "PCM_16", ("FLAC", 24): "PCM_24",
    ("AIFF", 16): "PCM_16", ("AIFF", 24): "PCM_24", ("AIFF", 32): "FLOAT",
}


def render(
    session: Session,
    *,
    tail: bool = True,
    max_tail_seconds: float = DEFAULT_MAX_TAIL_SECONDS,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    stems: StemWriter | None = None,
) -> RenderResult:
    """Render ``session`` offline to a stereo array (see :func:`rackhost.chain.offline.render_mix`).

    If the master has a loudness target, the render is steered onto it
    (:func:`rackhost.chain.mastering.render_to_target`) and the result carries
    a ``target_report``. Either way the session is left as it was;
    ``session.edit.keep_target_gain(session.master, result.target_report)``
    keeps the gain found, as an undoable step.
    """
    options = {"tail": tail, "max_tail_seconds": max_tail_seconds, "threads": threads, "progress": progress,
               "stems": stems}
    if session.master.loudness_target is not None:
        return render_to_target(session, session.master.loudness_target, **options)
    return render_mix(session, **options)  # type: ignore[arg-type]


def render_to_file(
    session: Session,
    path: str | Path,
    *,
    bit_depth: int = 24,
    stems: str | Path | None = None,
    **options: object,
) -> RenderResult:
    """Render (as :func:`render`) and write ``path``; the format follows the extension (.wav, .flac, .aiff).

    The file is written next to its final name and renamed into place, so a
    failed render never leaves a half-written file behind.

    ``stems``: a folder (created if need be) that also gets every track and bus
    as a file of its own, in the mix's format and bit depth, as long as the mix
    and lined up with it (:mod:`rackhost.chain.stems` says what a stem holds);
    ``result.stems`` lists them.
    """
    path = Path(path)
    subtype = output_subtype(path, bit_depth)
    if stems is None:
        return _write_mix(path, subtype, render(session, **options))
    if session.track_bounce:
        raise AudioFileError("stems are a session's tracks and busses; a bounce of one file through a chain "
                             "has none (render a session to write stems)")
    files = stem_files(session, prepare_stem_folder(stems), path.suffix)
    with StemWriter(files, session.sample_rate, FORMATS[path.suffix.lower()], subtype) as writer:
        result = _write_mix(path, subtype, render(session, stems=writer, **options))  # type: ignore[arg-type]
        result.stems = writer.finish(result.audio.shape[1])
    return result


def _write_mix(path: Path, subtype: str, result: RenderResult) -> RenderResult:
    audio = result.audio
    if subtype.startswith("PCM"):
        over = np.abs(audio) > 1.0
        result.clipped_samples = int(np.count_nonzero(over))
        if result.clipped_samples:
            audio = np.clip(audio, -1.0, 1.0)
    write_audio_file(path, audio, result.sample_rate, subtype)
    result.path = path
    return result


def output_subtype(path: Path, bit_depth: int) -> str:
    """The libsndfile subtype for ``path`` at ``bit_depth``, or a clear error before any work is done."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioFileError(
            f"unsupported output format {path.suffix or '(no extension)'!r} for {str(path)!r}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    subtype = SUBTYPES.get((fmt, bit_depth))
    if subtype is None:
        depths = sorted(d for f, d in SUBTYPES if f == fmt)
        raise AudioFileError(f"{fmt} cannot be written at {bit_depth} bits; choose {', '.join(map(str, depths))}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise AudioFileError(f"output folder {str(folder)!r} does not exist; create it first")
    return subtype


def write_audio_file(path: Path, audio: np.ndarray, sample_rate: int, subtype: str) -> None:
    try:
        with replacing(path) as tmp:
            sf.write(tmp, audio.T, sample_rate, subtype=subtype, format=FORMATS[path.suffix.lower()])
    except (OSError, RuntimeError, sf.LibsndfileError) as err:
        raise AudioFileError(f"could not write {str(path)!r}: {err}") from err
