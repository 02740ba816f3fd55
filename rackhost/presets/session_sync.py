"""Bring a running engine's session in line with the document the GUI sends, reusing what it can.

The GUI edits its own copy of the session (with undo); after a structural
change it sends the whole session document to the engine process. Rebuilding
every plug-in there would reload slow plug-ins (ZamVerb takes ~90 s) and cut
reverb tails, so the engine's session is rebuilt around the instances it
already runs: a slot whose plug-in is already loaded keeps its instance, and
only the parameter values that differ are handed back as changes, to be
applied at a block boundary by the audio thread's parameter queue (the
instance may be processing audio right now, so it is never set from here).
Only plug-ins the engine does not hold yet are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rackhost.chain import Plugin, Session
from rackhost.chain.chain import Slot
from rackhost.chain.plugin import MissingPlugin
from rackhost.presets.preset import RestoreReport, SlotState, restore_slot
from rackhost.presets.session_file import _SessionReader


@dataclass(frozen=True)
class ParameterChange:
    plugin: Plugin
    name: str
    value: object


def resync(current: Session, doc: dict) -> tuple[Session, list[ParameterChange]]:
    """A session as ``doc`` says, built around ``current``'s plug-in instances and audio sources.

    Returns the new session and the parameter changes its reused instances
    still need. ``doc`` is a current-version session document with absolute
    audio paths (:func:`rackhost.presets.session_to_dict` without a base).
    """
    reader = _ResyncReader(current)
    session = reader.read(doc)
    # The engine's rate and block size are fixed while it runs; changing them is a restart.
    session.sample_rate, session.block_size = current.sample_rate, current.block_size
    return session, reader.changes


def _owners(session: Session) -> list[Any]:
    return [*session.tracks, *session.busses, session.master]


class _ResyncReader(_SessionReader):
    def __init__(self, current: Session):
        super().__init__(Path("engine-resync.json"), RestoreReport())
        self.pool: dict[tuple[str, str], list[Plugin]] = {}
        for owner in _owners(current):
            for chain in (owner.chain, owner.ab.other):
                for slot in chain.plugin_slots() if chain is not None else ():  # inside splits too
                    plugin = slot.plugin
                    if not isinstance(plugin, MissingPlugin):
                        self.pool.setdefault(_key(plugin.identity.to_dict()), []).append(plugin)
        self.sources = {str(getattr(t.source, "path", "")): t.source for t in current.tracks if t.source is not None}
        self.changes: list[ParameterChange] = []

    def open_source(self, path: Path) -> Any:  # type: ignore[override]
        known = self.sources.get(str(path))
        return known if known is not None else super().open_source(path)

    def restore(self, state: SlotState, source: str, where: str, report: RestoreReport,  # type: ignore[override]
                **options: Any) -> Slot:
        candidates = self.pool.get(_key(state.plugin), [])
        reusable = []
        for i, plugin in enumerate(candidates):
            needed = _differences(plugin, state)
            if needed is not None:
                reusable.append((len(needed), i, needed))
        if not reusable:
            return restore_slot(state, source, where, report, **options)
        _, best, needed = min(reusable, key=lambda r: r[:2])  # the closest instance keeps its internal state
        plugin = candidates.pop(best)
        self.changes += [ParameterChange(plugin, name, value) for name, value in needed]
        return Slot(plugin, bypass=state.bypass, mix=state.mix)


def _key(identity: dict) -> tuple[str, str]:
    return str(identity.get("format", "vst3")), str(identity.get("name"))


def _differences(plugin: Plugin, state: SlotState) -> list[tuple[str, object]] | None:
    """The values ``plugin`` needs to match ``state``; None if it cannot be reused (a file it was made with)."""
    out = []
    for name, value in state.parameters.items():
        info = plugin.parameters.get(name)
        if info is None:
            continue
        if plugin.get(name) == value or info.rounded(plugin.get(name)) == value:
            continue  # files keep values at the parameter's precision
        if info.type == "path":
            return None
        out.append((name, value))
    return out


def session_from_document(document: dict) -> Session:
    """A fresh session from a document (absolute audio paths), as the engine process starts one."""
    return _ResyncReader(Session()).read(document)
