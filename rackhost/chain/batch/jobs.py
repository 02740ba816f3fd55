"""What a batch does: the list of (input, output) jobs, found in files and folders, and the manifest of what is done.

The manifest is a JSON-lines file in the output folder, one line per file
finished (done or failed), appended and flushed as each file ends. A batch run
again reads it back: a file whose last line says ``done`` (with the same
recipe, and its output still there) is skipped; a failed one is tried again.
A line cut short by a killed run is ignored.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import soundfile as sf

from rackhost.errors import RackhostError

MANIFEST_NAME = "rackhost-batch.jsonl"
MANIFEST_VERSION = 1
DEFAULT_NAME = "{stem}.{ext}"
WRITABLE = {".wav": "wav", ".flac": "flac", ".aiff": "aiff", ".aif": "aif"}
# What a folder is searched for: every format libsndfile reads, by extension (a file named on the command
# line is taken whatever its name, and fails with a reason if it is not audio).
AUDIO_EXTENSIONS = frozenset({f".{k.lower()}" for k in sf.available_formats()} | {".aif", ".mp3", ".opus", ".oga"})


JOB_LIST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
JOB_LIST_KEYS = ("input", "output", "loudness_target", "true_peak")
DEFAULT_TRUE_PEAK_DBTP = -1.0


class BatchError(RackhostError):
    """A batch that cannot start (inputs, outputs, the chain): names what is wrong and the fix."""


@dataclass(frozen=True)
class Job:
    input: Path
    output: Path
    # An album's second pass: this gain before the master's limiter, and this ceiling, instead of a target search.
    gain_db: float | None = None
    ceiling_db: float | None = None
    # From a job list: this file's own loudness target (LUFS, true-peak ceiling dBTP), over the batch's.
    loudness_target: tuple[float, float] | None = None

    def key(self) -> str:
        """What of the job itself a done file must match to be skipped (its own target)."""
        return "" if self.loudness_target is None else f"/target {self.loudness_target[0]:g} {self.loudness_target[1]:g}"


@dataclass
class FileRecord:
    """One manifest line: how one file went."""

    input: str
    output: str
    status: str  # "done" or "failed"
    reason: str | None = None  # why it failed: the error, the signal, or the timeout
    seconds: float = 0.0  # wall-clock time of the render
    audio_seconds: float = 0.0  # length of the output
    before: dict | None = None  # {"integrated_lufs", "true_peak_dbtp"} of the input
    after: dict | None = None  # the same of the output
    notes: list[str] = field(default_factory=list)
    gain_db: float | None = None  # the gain before the limiter that landed (or would land) it on the target
    ceiling_db: float | None = None  # and the limiter's ceiling
    recipe: str = ""  # fingerprint of the chain and options: a done file is skipped only for the same recipe
    skipped: bool = False  # done by an earlier run (not written to the manifest again)
    # Why a done file missed its loudness target (it is written as it came out), or None.
    target_missed: str | None = None

    def to_line(self) -> str:
        doc = {"format_version": MANIFEST_VERSION, **asdict(self)}
        doc.pop("skipped")
        return json.dumps(doc)


def find_jobs(inputs: Iterable[str | Path], outdir: Path, name: str = DEFAULT_NAME,
              extension: str | None = None) -> list[Job]:
    """The jobs for ``inputs`` (files, folders searched recursively for audio files, job lists), in a stable order.

    A folder's files keep their place below it under ``outdir``; a file named
    directly lands in ``outdir`` itself. ``name`` makes the output's file name
    from ``{stem}``, ``{ext}`` and ``{name}`` (the input's file name). A job
    list (``.csv``, or ``.jsonl`` with an object a line) names each file's
    ``input`` (relative to the list's folder) and optionally its ``output``
    (relative to ``outdir``), ``loudness_target`` (LUFS) and ``true_peak`` (dBTP).
    """
    outdir = Path(outdir)
    out_real = Path(os.path.realpath(outdir))
    found: list[tuple[Path, Path | None, Path | None, tuple[float, float] | None]] = []  # input, place, output, target
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            real = Path(os.path.realpath(path))
            if out_real == real or real in out_real.parents:
                raise BatchError(f"the output folder {str(outdir)!r} is inside the input folder {str(path)!r}, so "
                                 f"a later run would read its outputs as inputs; give an output folder outside it")
            for file in sorted(_audio_files(path)):
                found.append((file, file.relative_to(path), None, None))
        elif path.is_file() and path.suffix.lower() in JOB_LIST_SUFFIXES:
            for row in read_job_list(path):
                found.append((row[0], None, outdir / row[1] if row[1] else None, row[2]))
        elif path.exists():
            found.append((path, Path(path.name), None, None))
        else:
            raise BatchError(f"input {str(path)!r} does not exist; check the path")
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for file, rel, output, target in found:
        if output is None:
            ext = extension or WRITABLE.get(file.suffix.lower(), "wav")
            try:
                out_name = name.format(stem=file.stem, ext=ext, name=file.name)
            except (KeyError, IndexError, ValueError) as err:
                raise BatchError(f"--name {name!r} cannot be filled in ({err}); use {{stem}}, {{ext}} and {{name}}, "
                                 f"e.g. '{{stem}}-master.{{ext}}'") from None
            if not out_name or "/" in out_name or out_name in (".", ".."):
                raise BatchError(f"--name {name!r} gives {out_name!r} for {str(file)!r}, which is not a file name")
            output = outdir / (rel or Path(file.name)).parent / out_name
        key = os.path.realpath(output)
        if key in seen:
            raise BatchError(f"{str(seen[key])!r} and {str(file)!r} would both be written to {str(output)!r}; "
                             f"give a --name that tells them apart (e.g. '{{name}}.{{ext}}') or batch them apart")
        seen[key] = file
        jobs.append(Job(file, output, loudness_target=target))
    inputs_real = {os.path.realpath(j.input): j.input for j in jobs}
    for job in jobs:
        if os.path.realpath(job.output) in inputs_real:
            raise BatchError(f"the output {str(job.output)!r} is the input {str(inputs_real[os.path.realpath(job.output)])!r}: "
                             f"writing it would replace what is read; give another output folder or --name")
    return jobs


def read_job_list(path: Path) -> list[tuple[Path, str | None, tuple[float, float] | None]]:
    """(input, output or None, loudness target or None) for each row of a ``.csv`` or ``.jsonl`` job list."""
    try:
        with open(path, encoding="utf-8", newline="") as text:
            if path.suffix.lower() == ".csv":
                rows = [(n + 2, {k.strip(): (v or "").strip() for k, v in row.items() if k})
                        for n, row in enumerate(csv.DictReader(text))]
            else:
                rows = []
                for n, line in enumerate(text, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append((n, json.loads(line)))
                    except json.JSONDecodeError as err:
                        raise BatchError(f"job list {str(path)!r} line {n} is not JSON ({err.msg}); write one "
                                         f"object a line, e.g. {{\"input\": \"song.wav\"}}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BatchError(f"cannot read job list {str(path)!r}: {err}") from err
    jobs = []
    for line, row in rows:
        where = f"job list {str(path)!r} line {line}"
        if not isinstance(row, dict):
            raise BatchError(f"{where} is not an object; write {{\"input\": \"song.wav\"}}")
        unknown = sorted(k for k in row if k not in JOB_LIST_KEYS)
        if unknown:
            raise BatchError(f"{where} has {unknown[0]!r}, which a job list does not take; "
                             f"it takes {', '.join(JOB_LIST_KEYS)}")
        if not row.get("input"):
            raise BatchError(f"{where} has no input; give the audio file to render")
        lufs, peak = _number(row, "loudness_target", where, -70, 0), _number(row, "true_peak", where, -20, 0)
        if peak is not None and lufs is None:
            raise BatchError(f"{where} has a true_peak but no loudness_target; give both, or neither")
        source = Path(str(row["input"]))
        jobs.append((source if source.is_absolute() else path.parent / source, str(row.get("output") or "") or None,
                     None if lufs is None else (lufs, DEFAULT_TRUE_PEAK_DBTP if peak is None else peak)))
    return jobs


def _number(row: dict, key: str, where: str, low: float, high: float) -> float | None:
    value = row.get(key)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BatchError(f"{where}: {key} {value!r} is not a number") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise BatchError(f"{where}: {key} {value!r} is outside {low:g}..{high:g}")
    return number


def _audio_files(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for file in files:
            # Hidden files include the half-written ".NAME.*.part" of a killed run.
            if not file.startswith(".") and Path(file).suffix.lower() in AUDIO_EXTENSIONS:
                yield Path(root) / file


class Manifest:
    """The JSON-lines record of a batch in its output folder."""

    def __init__(self, outdir: Path):
        self.path = Path(outdir) / MANIFEST_NAME
        self.last: dict[str, dict] = {}  # input -> its last record
        if self.path.exists():
            with open(self.path, encoding="utf-8") as lines:
                for line in lines:
                    try:
                        doc = json.loads(line)
                    except json.JSONDecodeError:  # the line a killed run was writing
                        continue
                    if isinstance(doc, dict) and isinstance(doc.get("input"), str):
                        self.last[doc["input"]] = doc

    def done(self, job: Job, recipe: str) -> dict | None:
        """The record of ``job`` if an earlier run finished it with this recipe and its output is still there."""
        doc = self.last.get(str(job.input))
        if (doc and doc.get("status") == "done" and doc.get("recipe") == recipe
                and doc.get("output") == str(job.output) and job.output.exists()):
            return doc
        return None

    def append(self, record: FileRecord) -> None:
        line = record.to_line() + "\n"
        # One write of a whole line, flushed: a kill leaves at most one torn last line, which is ignored.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.last[record.input] = json.loads(line)


def remove_partial(output: Path) -> None:
    """Delete the temporary files a killed render of ``output`` left (``rackhost.atomic.replacing`` names them)."""
    folder = output.parent
    if not folder.is_dir():
        return
    for leftover in folder.glob(f".{_glob_escape(output.name)}.*.part"):
        try:
            leftover.unlink()
        except OSError:
            pass


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
