"""Program changes recall presets: the loader the live engine is given (``rackhost.chain`` reads no preset files).

:func:`recall_preset` is named by module and attribute in
:class:`rackhost.live.midi_input.MidiSetup`, so an engine process imports it
in the child. It runs on the engine's control thread: the preset's plug-ins are
made and set there, then the engine's ``update()`` swaps the new chain in.
"""

from __future__ import annotations

from rackhost.chain import Session
from rackhost.presets.apply import apply_preset
from rackhost.presets.store import PresetStore


def recall_preset(session: Session, track: int | None, ref: str) -> str:
    """Load preset ``ref`` ("stage/name", or a .json path) into track ``track`` (None: the master); returns a line for the user."""
    preset = PresetStore().load(ref)
    owner = None if track is None else session.tracks[track]
    report = apply_preset(preset, session, owner, source=ref)
    where = "the master" if owner is None or preset.kind == "master" else f"track {owner.name!r}"
    line = f"program change: recalled {ref} on {where}"
    if report.mismatches:
        line += f" ({len(report.mismatches)} values did not land: {'; '.join(report.mismatches[:3])})"
    return line
