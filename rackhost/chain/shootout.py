"""A shoot-out: one input rendered through several candidate chains, loudness-matched, written side by side.

Each candidate is a session (a bounce of the input through its chain) built by
the caller. Every render is trimmed of its plug-ins' latency, so the matched
sides line up with the input sample for sample; then every side, the input
too, is brought to one loudness (:mod:`rackhost.chain.matching`).
:func:`shoot_out` does that in memory (a window can play the matched sides);
:func:`write_shoot_out` writes them as LABEL.wav with ``report.json`` and
``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rackhost.atomic import replacing, write_json
from rackhost.chain.matching import Level, MatchPlan, Measurement, apply_gain, measure_side, plan_match
from rackhost.chain.offline import DEFAULT_MAX_TAIL_SECONDS, ProgressCallback
from rackhost.chain.render import SUBTYPES, render, write_audio_file
from rackhost.chain.session import Session
from rackhost.chain.shootout_html import report_html
from rackhost.chain.spectrum import Spectrum, average_spectrum, log_bands
from rackhost.errors import AudioFileError

REPORT_VERSION = 1
INPUT_LABEL = "input"


@dataclass
class Candidate:
    label: str  # also the file's name: LABEL.wav
    description: str  # what it is, for the report: the chain as typed, or the preset's name
    session: Session


@dataclass
class Side:
    label: str
    description: str
    audio: np.ndarray  # as rendered (or read, for the input), at the shared width
    matched_audio: np.ndarray | None = None  # ``audio`` with ``gain_db`` applied
    latency: int = 0
    notes: list[str] = field(default_factory=list)
    measured: Measurement | None = None
    matched: Measurement | None = None
    gain_db: float = 0.0
    spectrum: Spectrum | None = None  # of the matched audio, in log bands


@dataclass
class ShootOut:
    input_path: str
    sample_rate: int
    sides: list[Side]  # the input first, then the candidates in order
    plan: MatchPlan
    notes: list[str]
    folder: Path | None = None  # where it was written, once it is

    def to_dict(self) -> dict:
        return {
            "format_version": REPORT_VERSION,
            "input": self.input_path,
            "sample_rate": self.sample_rate,
            "channels": self.sides[0].audio.shape[0],
            "reference": self.plan.reference,
            "target_lufs": self.plan.target_lufs,
            "ceiling_dbtp": self.plan.ceiling_dbtp,
            "limited_by_true_peak": self.plan.limited_by,
            "matching": self.plan.describe(),
            "notes": self.notes,
            "sides": [{
                "label": side.label,
                "chain": side.description,
                "file": str(self.folder / f"{side.label}.wav") if self.folder else None,
                "latency_samples": side.latency,
                "gain_db": side.gain_db,
                "measured": side.measured.to_dict() if side.measured else None,
                "matched": side.matched.to_dict() if side.matched else None,
            } for side in self.sides],
        }


def shoot_out(
    input_audio: np.ndarray,
    sample_rate: int,
    candidates: list[Candidate],
    *,
    input_path: str = "",
    reference: str = INPUT_LABEL,
    ceiling_dbtp: float = 0.0,
    tail: bool = True,
    max_tail_seconds: float = DEFAULT_MAX_TAIL_SECONDS,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    notes: list[str] | None = None,
) -> ShootOut:
    """Render every candidate, measure every side and match them all in loudness, in memory.

    ``input_audio`` is the input at ``sample_rate`` (the rate the candidates
    render at). A mono side among stereo ones becomes dual mono, so every side
    is measured as it plays on two speakers. ``notes`` go into the report first
    (what the caller had to say about the input or the candidates). Raises
    :class:`~rackhost.chain.matching.MatchError` when a side cannot be matched.
    """
    sides = [Side(INPUT_LABEL, "the input, unprocessed", np.asarray(input_audio, np.float32))]
    for candidate in candidates:
        result = render(candidate.session, tail=tail, max_tail_seconds=max_tail_seconds, threads=threads,
                        progress=progress)
        sides.append(Side(candidate.label, candidate.description, result.audio, latency=result.latency,
                          notes=[f"{candidate.label}: {note}" for note in result.notes]))
    notes = list(notes or []) + [note for side in sides for note in side.notes]
    width = max(side.audio.shape[0] for side in sides)
    for side in sides:
        if side.audio.shape[0] < width:
            side.audio = np.repeat(side.audio, width, axis=0)
            notes.append(f"{side.label} is mono: written and measured as dual mono, as it plays on two speakers")

    for side in sides:
        side.measured = measure_side(side.audio, sample_rate)
    plan = plan_match({s.label: Level(s.measured.integrated_lufs, s.measured.true_peak_dbtp)  # type: ignore[union-attr]
                       for s in sides}, reference, ceiling_dbtp)
    if plan.limited_by is not None:
        notes.append(plan.describe())
    for side in sides:
        side.gain_db = plan.gains_db[side.label]
        # The plan keeps every true peak at or below the ceiling (at most 0 dBTP); clipping only catches
        # float rounding, which a 24-bit file would otherwise wrap around to full negative scale.
        side.matched_audio = np.clip(apply_gain(side.audio, side.gain_db), -1.0, 1.0)
        side.matched = measure_side(side.matched_audio, sample_rate)
        side.spectrum = log_bands(average_spectrum(side.matched_audio, sample_rate))
    return ShootOut(input_path, sample_rate, sides, plan, notes)


def write_shoot_out(shoot: ShootOut, folder: str | Path, bit_depth: int = 24) -> dict:
    """Write every matched side as ``folder/LABEL.wav``, then report.json and report.html; returns the report."""
    folder = Path(folder)
    subtype = SUBTYPES[("WAV", bit_depth)]
    for side in shoot.sides:
        write_audio_file(folder / f"{side.label}.wav", side.matched_audio, shoot.sample_rate, subtype)
    shoot.folder = folder
    report = shoot.to_dict()
    try:
        write_json(folder / "report.json", report)
    except OSError as err:
        raise AudioFileError(f"could not write {str(folder / 'report.json')!r}: {err.strerror or err}; "
                             f"check the folder is writable") from err
    _write_text(folder / "report.html", report_html(report, {s.label: s.spectrum for s in shoot.sides}))
    return report


def _write_text(path: Path, text: str) -> None:
    try:
        with replacing(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    except OSError as err:
        raise AudioFileError(f"could not write {str(path)!r}: {err.strerror or err}; "
                             f"check the folder is writable") from err
