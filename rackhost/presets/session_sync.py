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

A slot is matched to its instance by its id (:attr:`rackhost.chain.chain.Slot.uid`, which the window's
:func:`engine_document` carries): two instances of one plug-in (two compressors, two reverbs) with the same
settings would look alike by name and values, and a slot given the other's instance would jump to that one's
state (its envelope follower, its tail). Only a slot the engine does not know by id (a preset's, a copy's) takes
an instance of the same plug-in that no slot of the document claims, the closest in values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rackhost.chain import Plugin, Session
from rackhost.chain.chain import Slot
from rackhost.chain.plugin import MissingPlugin
from rackhost.presets.preset import RestoreReport, SlotState, restore_slot
from rackhost.presets.session_file import _SessionReader, session_to_dict


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


def engine_document(session: Session) -> dict:
    """What a window sends its engine (to start it, and at each :class:`~rackhost.live.commands.Sync`): the
    session's document with each slot's id, so that the engine keeps each slot's own plug-in instance."""
    return session_to_dict(session, slot_ids=True)


def _owners(session: Session) -> list[Any]:
    return [*session.tracks, *session.busses, session.master]


class _ResyncReader(_SessionReader):
    def __init__(self, current: Session):
        super().__init__(Path("engine-resync.json"), RestoreReport())
        self.pool: dict[tuple[str, str], list[Plugin]] = {}  # by plug-in, for slots the engine does not know
        self.by_id: dict[str, Plugin] = {}
        for owner in _owners(current):
            for chain in (owner.chain, owner.ab.other):
                for slot in chain.plugin_slots() if chain is not None else ():  # inside splits too
                    plugin = slot.plugin
                    if not isinstance(plugin, MissingPlugin):
                        self.pool.setdefault(_key(plugin.identity.to_dict()), []).append(plugin)
                        self.by_id[slot.uid] = plugin
        self.sources = {str(getattr(t.source, "path", "")): t.source for t in current.tracks if t.source is not None}
        self.changes: list[ParameterChange] = []

    def open_source(self, path: Path) -> Any:  # type: ignore[override]
        known = self.sources.get(str(path))
        return known if known is not None else super().open_source(path)

    def read(self, doc: Any) -> Session:
        # The instances of slots the document still has are theirs: kept out of the pool before any slot is made.
        claimed = {id(self.by_id[uid]) for uid in _slot_ids(doc) if uid in self.by_id}
        self.by_id = {uid: plugin for uid, plugin in self.by_id.items() if id(plugin) in claimed}
        self.pool = {key: [p for p in plugins if id(p) not in claimed] for key, plugins in self.pool.items()}
        return super().read(doc)

    def restore(self, state: SlotState, source: str, where: str, report: RestoreReport,  # type: ignore[override]
                **options: Any) -> Slot:
        own = self.by_id.pop(self.slot_ids.get(where, ""), None)
        if own is not None and _key(own.identity.to_dict()) == _key(state.plugin):
            needed = _differences(own, state)
            if needed is not None:
                self.changes += [ParameterChange(own, name, value) for name, value in needed]
                return Slot(own, bypass=state.bypass, mix=state.mix)
            # A file-valued parameter changed: a fresh instance reads it (as for any slot below).
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


def _slot_ids(doc: Any) -> list[str]:
    """Every slot id in a session document (a plug-in slot's ``id``, in any chain at any depth)."""
    if isinstance(doc, dict):
        found = [doc["id"]] if isinstance(doc.get("id"), str) and "plugin" in doc else []
        return found + [uid for value in doc.values() for uid in _slot_ids(value)]
    if isinstance(doc, list):
        return [uid for value in doc for uid in _slot_ids(value)]
    return []


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
