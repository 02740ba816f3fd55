"""Batch rendering: many files through one chain, on every core, surviving crashing plug-ins, resumable.

    from rackhost.chain.batch import batch
    from rackhost.presets.batch import SessionRecipe
    summary = batch(["album/"], Path("out"), SessionRecipe(presets=("mastering/streaming",), loudness_target=-14),
                    progress=lambda s: print(s.done, s.failed, s.eta()), cancel=threading.Event())
    for record in summary.finished: ...  # FileRecord: status, reason, loudness before/after, seconds

``build`` is a picklable callable returning a :class:`rackhost.chain.Session`
with one track (its source is set per file); each worker calls it once
(:class:`rackhost.presets.batch.SessionRecipe` makes one from presets, a chain
or a session file). :func:`batch` is :func:`prepare` (find and check the files,
make the output folder) then :func:`run`; ``rackhost batch``
(:mod:`rackhost.cli.batch`) and the window's batch dialog
(:mod:`rackhost.gui.batch_dialog`) both go this way. The manifest in the output
folder is the batch's whole state: running it again skips what is done.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rackhost.chain.batch.jobs import (
    DEFAULT_NAME,
    MANIFEST_NAME,
    BatchError,
    FileRecord,
    Job,
    Manifest,
    find_jobs,
    remove_partial,
)
from rackhost.chain.batch.pool import (
    Cancel,
    Pool,
    RenderOptions,
    SessionBuilder,
    render_one,
)

__all__ = ["MANIFEST_NAME", "BatchError", "BatchSummary", "Cancel", "FileRecord", "Job", "Manifest", "RenderOptions",
           "SessionBuilder", "batch", "find_jobs", "prepare", "render_one", "run"]

Progress = Callable[["BatchSummary"], None]


@dataclass
class BatchSummary:
    """Every file's record, in the order of the jobs; filled in as files end."""

    records: list[FileRecord | None]
    phase: str = "rendering"  # "measuring": an album's first pass
    cancelled: bool = False  # stopped part-way: files without a record are left for the next run
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0

    @property
    def finished(self) -> list[FileRecord]:
        return [r for r in self.records if r is not None]

    @property
    def done(self) -> int:
        return sum(r.status == "done" for r in self.finished)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.finished)

    @property
    def missed_target(self) -> list[FileRecord]:
        """Done files that missed their loudness target (this run's, and earlier runs' skipped ones)."""
        return [r for r in self.finished if r.status == "done" and r.target_missed is not None]

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.finished)

    def realtime_factor(self) -> float:
        """Seconds of audio rendered this run per second of wall clock."""
        audio = sum(r.audio_seconds for r in self.finished if not r.skipped)
        return audio / max(time.monotonic() - self.started, 1e-9)

    def eta(self) -> float | None:
        """Seconds left, from this run's pace so far; None before a file has ended."""
        ran = [r for r in self.finished if not r.skipped]
        if not ran:
            return None
        left = len(self.records) - len(self.finished)
        return (time.monotonic() - self.started) / len(ran) * left


def prepare(inputs: list[str | Path], outdir: Path, name: str = DEFAULT_NAME, extension: str | None = None,
            bit_depth: int = 24, reads: list[str | Path] = ()) -> list[Job]:  # type: ignore[assignment]
    """The jobs for ``inputs`` (:func:`find_jobs`), checked, and ``outdir`` made and writable; BatchError if not.

    Every refusal comes before the folder is made: a batch that cannot start
    leaves nothing behind. ``reads``: other files the batch reads (a session or
    preset file), which no output may replace.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise BatchError(f"the output folder {str(outdir)!r} is a file; give a folder (it is created if need be)")
    jobs = find_jobs(inputs, outdir, name, extension)
    if not jobs:
        raise BatchError(f"no audio files in {', '.join(repr(str(i)) for i in inputs) or 'the inputs'}; "
                         f"give audio files or folders holding them")
    _check_formats(jobs, bit_depth)
    for job in jobs:
        for read in reads:
            if read and _same_file(job.output, Path(read)):
                raise BatchError(f"the output {str(job.output)!r} is {str(read)!r}, which the batch reads: writing "
                                 f"it would replace what is read; give another output folder or name")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BatchError(f"cannot create the output folder {str(outdir)!r} ({err.strerror}); "
                         f"give one you can write to") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise BatchError(f"the output folder {str(outdir)!r} is not writable; give one you can write to")
    return jobs


def batch(inputs: list[str | Path], outdir: Path, build: SessionBuilder, options: RenderOptions | None = None,
          *, name: str = DEFAULT_NAME, extension: str | None = None, workers: int | None = None,
          timeout: float | None = None, album: bool = False, ray: str | None = None,
          progress: Progress | None = None, cancel: Cancel | None = None) -> BatchSummary:
    """Render ``inputs`` (files, folders, job lists) through ``build``'s chain into ``outdir``: :func:`prepare`,
    then :func:`run`. A ``build`` with a ``fingerprint(options)`` method (a
    :class:`rackhost.presets.batch.SessionRecipe`) names its recipe, so a file
    done under another chain is done again."""
    outdir, options = Path(outdir), options or RenderOptions()
    jobs = prepare(inputs, outdir, name, extension, options.bit_depth, getattr(build, "reads", ()))
    fingerprint = getattr(build, "fingerprint", None)
    recipe = fingerprint(dataclasses.asdict(options)) if fingerprint else ""
    return run(jobs, build, options, out=outdir, workers=workers, timeout=timeout, recipe=recipe,
               progress=progress, album=album, ray=ray, cancel=cancel)


def run(jobs: list[Job], build: SessionBuilder, options: RenderOptions, *, out: Path, workers: int | None = None,
        timeout: float | None = None, recipe: str = "", progress: Progress | None = None,
        album: bool = False, ray: str | None = None, cancel: Cancel | None = None) -> BatchSummary:
    """Render ``jobs`` (see :func:`find_jobs`), skipping those the manifest in ``out`` has done with this ``recipe``.

    ``workers``: processes (default one per core); ``timeout``: seconds a file
    may take before its worker is taken for hung (default 120 s plus 4 s per
    second of audio). Failed files are in the summary and the manifest with a
    reason; nothing about one file stops the others.

    ``album``: a first pass finds the gain before the master's limiter that
    would land each file on the session's loudness target; every file is then
    rendered at the smallest of them, so the loudest lands on the target and
    the others keep their level below it.

    ``cancel`` (a ``threading.Event``): once set, the files not yet ended are
    left without a record or a partial output, and the summary says
    ``cancelled``; the same batch run again picks up from there.

    ``ray``: run the files on a Ray cluster at this address instead
    (:mod:`rackhost.chain.batch.cluster`; ``"local"`` starts one here), with
    ``workers`` actors (default: one per core of this machine).
    """
    if ray is not None:
        from rackhost.chain.batch.cluster import (
            connected,  # Ray is an optional extra: imported only when asked for
        )

        # One connection (one local Ray) for both of an album's passes.
        with connected(ray, workers) as cpus:
            return _run(jobs, build, options, out, workers or cpus, timeout, recipe, progress, album, ray, cancel)
    return _run(jobs, build, options, out, workers or os.cpu_count() or 1, timeout, recipe, progress, album, None,
                cancel)


def _run(jobs: list[Job], build: SessionBuilder, options: RenderOptions, out: Path, workers: int,
         timeout: float | None, recipe: str, progress: Progress | None, album: bool, ray: str | None,
         cancel: Cancel | None = None) -> BatchSummary:
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out)
    summary = BatchSummary([None] * len(jobs))
    if album:
        jobs, recipe, failed = _album(jobs, build, options, workers, timeout, recipe, progress, ray, cancel)
        if cancel is not None and cancel.is_set():  # the album's gain is not known: nothing is rendered
            summary.cancelled = True
            summary.elapsed = time.monotonic() - summary.started
            return summary
        for index, record in failed.items():
            record.recipe = recipe
            manifest.append(record)
            summary.records[index] = record
    todo: list[tuple[int, Job]] = []
    for index, job in enumerate(jobs):
        if job is None:  # failed the album's first pass
            continue
        doc = manifest.done(job, recipe + job.key())
        if doc is not None:
            summary.records[index] = FileRecord(
                doc["input"], doc["output"], "done", None, doc.get("seconds", 0.0), doc.get("audio_seconds", 0.0),
                doc.get("before"), doc.get("after"), doc.get("notes", []), recipe=doc.get("recipe", ""), skipped=True,
                target_missed=doc.get("target_missed"))
        else:
            remove_partial(job.output)  # what a killed run was writing
            todo.append((index, job))
    if progress:
        progress(summary)

    def heard(index: int, record: FileRecord) -> None:
        record.recipe = recipe + jobs[index].key()  # type: ignore[union-attr]
        manifest.append(record)
        summary.records[index] = record
        if progress:
            progress(summary)

    if todo:
        _pool(build, options, min(workers, len(todo)), timeout, ray).run(todo, heard, cancel)
    summary.cancelled = cancel is not None and cancel.is_set() and any(r is None for r in summary.records)
    summary.elapsed = time.monotonic() - summary.started
    return summary


def _album(jobs: list[Job], build: SessionBuilder, options: RenderOptions, workers: int, timeout: float | None,
           recipe: str, progress: Progress | None, ray: str | None,
           cancel: Cancel | None = None) -> tuple[list, str, dict[int, FileRecord]]:
    """The album's first pass: the jobs again, each at the album's gain (None for a file that failed), the
    recipe with that gain in it (another set of files is another album), and the failures."""
    measured: dict[int, FileRecord] = {}
    pass_one = BatchSummary([None] * len(jobs), phase="measuring")

    def heard(index: int, record: FileRecord) -> None:
        measured[index] = pass_one.records[index] = record
        if progress:
            progress(pass_one)

    _pool(build, dataclasses.replace(options, measure_only=True), min(workers, len(jobs)), timeout, ray).run(
        list(enumerate(jobs)), heard, cancel)
    found = {i: r for i, r in measured.items() if r.status == "done" and r.gain_db is not None}
    failed = {i: r for i, r in measured.items() if i not in found}
    if not found:
        return [None] * len(jobs), recipe, failed
    gain = min(r.gain_db for r in found.values())  # type: ignore[type-var]
    album_jobs = [dataclasses.replace(job, gain_db=gain, ceiling_db=found[i].ceiling_db) if i in found else None
                  for i, job in enumerate(jobs)]
    return album_jobs, f"{recipe}/album {gain:.6f}", failed


def _pool(build: SessionBuilder, options: RenderOptions, workers: int, timeout: float | None,
          ray: str | None) -> Pool:
    if ray is None:
        return Pool(build, options, workers, timeout)
    from rackhost.chain.batch.cluster import (
        RayPool,  # Ray is an optional extra: imported only when asked for
    )

    return RayPool(build, options, workers, timeout, ray)  # type: ignore[return-value]


def _check_formats(jobs: list[Job], bit_depth: int) -> None:
    """Refuse a format and bit depth that cannot go together before any worker starts (FLAC has no 32-bit float)."""
    from rackhost.chain.render import FORMATS, SUBTYPES

    for suffix in sorted({job.output.suffix.lower() for job in jobs}):
        fmt = FORMATS.get(suffix)
        if fmt is None:
            raise BatchError(f"--name makes {suffix or 'no extension'!r} outputs, which rackhost cannot write; "
                             f"end it in .{{ext}}, .wav, .flac or .aiff")
        if (fmt, bit_depth) not in SUBTYPES:
            depths = ", ".join(str(d) for f, d in SUBTYPES if f == fmt)
            raise BatchError(f"{fmt} cannot be written at {bit_depth} bits; give --bit-depth "
                             f"{depths.replace(', ', ' or ')} or another --format")


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links; only when both exist
    except OSError:
        return False
