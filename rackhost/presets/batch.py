"""What each batch worker builds its session from: presets, a chain spec or a session file, and a loudness target.

Plug-ins cannot be pickled, so a batch hands its workers this recipe (text and
numbers only) and each builds its own chain from it once
(:func:`rackhost.chain.batch.batch`). ``rackhost batch`` and the window's batch
dialog make the same recipe: the window saves the chain it batches as a preset
file in the output folder and names that file here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rackhost.errors import RackhostError

DEFAULT_CEILING_DBTP = -1.0

# An inline chain spec ("HighpassFilter; ZamCompX2(threshold_db=-20)") -> a Chain; handed in by the command line,
# which owns the spec's syntax. A module-level function, so it pickles by name.
ChainParser = Callable[..., object]


@dataclass(frozen=True)
class SessionRecipe:
    """A picklable ``build`` for :func:`rackhost.chain.batch.batch`: calling it makes the session a file plays on."""

    chain: str | None = None
    presets: tuple[str, ...] = ()  # STAGE/NAME or preset .json files, applied in order
    session: str | None = None  # a session file: each input is its one audio-file track
    allow_untrusted: bool = False
    block_size: int | None = None  # None: 512, or the session's
    keep_mono: bool = False
    loudness_target: float | None = None
    true_peak: float | None = None
    parse_chain: ChainParser | None = field(default=None, compare=False)  # needed with ``chain``

    def __call__(self) -> object:
        from rackhost.chain import LoudnessTarget, Plugin, Session
        from rackhost.chain.target import LoudnessTargetError, final_limiter

        if self.session:
            session = _load_session(self.session, self.block_size)
        else:
            # A bounce, as 'rackhost render FILE': each file comes back as wide as its chain makes it.
            session = Session(block_size=self.block_size or 512, track_bounce=True)
            chain = None
            if self.chain:
                if self.parse_chain is None:
                    raise RackhostError("a batch recipe with a chain spec needs its parser (parse_chain=)")
                chain = self.parse_chain(self.chain, allow_untrusted=self.allow_untrusted)
            session.add_track("input", None, chain, keep_mono=self.keep_mono)
        apply_presets(session, list(self.presets), single_track=not self.session, allow_untrusted=self.allow_untrusted)
        master = session.master
        if self.loudness_target is not None or (self.true_peak is not None and master.loudness_target):
            ceiling = self.true_peak if self.true_peak is not None else (
                master.loudness_target.true_peak_dbtp if master.loudness_target else DEFAULT_CEILING_DBTP)
            lufs = self.loudness_target if self.loudness_target is not None else master.loudness_target.integrated_lufs  # type: ignore[union-attr]
            master.loudness_target = LoudnessTarget(lufs, ceiling)
            try:
                final_limiter(master.chain)
            except LoudnessTargetError:
                master.chain.add(Plugin.builtin("BrickwallLimiter", true_peak=True))
        return session

    @property
    def reads(self) -> list[str]:
        """The files this recipe reads, which no batch output may replace."""
        return [ref for ref in (*self.presets, self.session) if ref and Path(ref).is_file()]

    def fingerprint(self, extra: dict) -> str:
        """Same text for the same chain and options: a file done under another recipe is done again."""
        files = [_preset_text(ref) for ref in self.presets] + ([_preset_text(self.session)] if self.session else [])
        doc = {**asdict(self), **extra, "files": files}
        doc.pop("parse_chain")
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def apply_presets(session: object, refs: list[str], single_track: bool, allow_untrusted: bool = False) -> list[str]:
    """Apply preset references (STAGE/NAME or files) in order; returns values that did not land, for the user."""
    from rackhost.presets.apply import apply_preset
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    warnings: list[str] = []
    for ref in refs:
        preset = store.load(ref)
        if preset.kind != "master" and not single_track:
            raise RackhostError(
                f"preset {ref!r} is a {preset.kind} preset; with --session only master presets apply "
                f"(set track chains in the session file)"
            )
        track = session.tracks[0] if single_track else None  # type: ignore[attr-defined]
        report = apply_preset(preset, session, track, replace=False, source=ref,  # type: ignore[arg-type]
                              allow_untrusted=allow_untrusted)
        refuse_bypassed_plugins(report, f"preset {ref!r}")
        warnings += report.warnings()
    return warnings


def refuse_bypassed_plugins(report: object, what: str) -> None:
    """A render must not quietly drop a slot whose plug-in failed its probe: that would change the mix."""
    refused = report.refused  # type: ignore[attr-defined]
    if refused:
        raise RackhostError(f"{what} names a plug-in rackhost will not load, so it is not rendered: {refused[0]}")


def _load_session(path: str, block_size: int | None) -> object:
    from rackhost.presets import load_session
    from rackhost.presets.preset import RestoreReport

    loaded = RestoreReport()
    session = load_session(path, loaded)
    refuse_bypassed_plugins(loaded, f"session {path!r}")
    if block_size is not None:
        session.block_size = block_size
    return session


def _preset_text(ref: str) -> str:
    path = Path(ref)
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ref
    except OSError:
        return ref
