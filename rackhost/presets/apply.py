"""Putting presets into a session, and making presets from one."""

from __future__ import annotations

from rackhost.chain import Bus, Chain, LoudnessTarget, Session, Track
from rackhost.chain.master import MasterBus
from rackhost.presets.preset import Preset, RestoreReport, capture_chain, restore_chain
from rackhost.presets.preset_midi import install_mappings


def apply_preset(
    preset: Preset, session: Session, track: Track | Bus | None = None, *, replace: bool = True,
    source: str | None = None, allow_untrusted: bool = False, restored: tuple[Chain, RestoreReport] | None = None,
) -> RestoreReport:
    """Load ``preset`` into ``track``'s chain (a track's or a bus's; the master's for a master preset), as one
    undo step; a track or bus preset also sets the fader and pan.

    With ``replace`` the chain becomes the preset's; without, the preset's slots
    are appended (several presets applied in order). Fresh plug-ins are made
    and set before anything in the session changes, so a bad preset changes nothing.
    ``restored``: what :func:`restore_chain` made of ``preset`` already (a GUI
    loads the plug-ins on a worker thread, then changes the session on its own).
    """
    chain, report = restored or restore_chain(preset, source, allow_untrusted=allow_untrusted)
    ref = f"{preset.stage}/{preset.name}"
    owner: Track | Bus | MasterBus = session.master if preset.kind == "master" or track is None else track
    slot_offset = 0 if replace else len(owner.chain)
    edit = session.edit
    with session.history.group(f"load preset {ref}"):
        if replace:
            chain.origin = ref
            edit.load_chain(owner, chain, f"load preset {ref}")
        else:
            for slot in chain:
                edit.add_slot(owner.chain, slot)
        if preset.kind in ("track", "bus", "master") and preset.gain_db is not None:
            edit.set_gain(owner, preset.gain_db)
        if isinstance(owner, (Track, Bus)) and preset.kind in ("track", "bus") and preset.pan is not None:
            edit.set_pan(owner, preset.pan)
        if isinstance(owner, MasterBus) and preset.loudness_target_lufs is not None:
            ceiling = preset.true_peak_ceiling_dbtp if preset.true_peak_ceiling_dbtp is not None else -1.0
            edit.set_loudness_target(owner, LoudnessTarget(preset.loudness_target_lufs, ceiling))
    if preset.midi_mappings and preset.kind in ("track", "master") and not isinstance(owner, Bus):
        install_mappings(preset.midi_mappings, session, owner, slot_offset)
    return report


def preset_from(name: str, stage: str, what: Chain | Track | Bus | MasterBus, **metadata: object) -> Preset:
    """A preset of a chain, a whole track or bus (chain, gain, pan) or the master (chain, gain, loudness target).

    A bus preset keeps what the bus does, not where it sits: its output and sends are the session's.
    """
    if isinstance(what, (Track, Bus)):
        kind = "track" if isinstance(what, Track) else "bus"
        return Preset(name, stage, kind, capture_chain(what.chain), gain_db=what.gain_db, pan=what.pan,  # type: ignore[arg-type]
                      **metadata)
    if isinstance(what, MasterBus):
        target = what.loudness_target
        return Preset(
            name, stage, "master", capture_chain(what.chain), gain_db=what.gain_db,
            loudness_target_lufs=target.integrated_lufs if target else None,
            true_peak_ceiling_dbtp=target.true_peak_dbtp if target else None,
            **metadata,  # type: ignore[arg-type]
        )
    return Preset(name, stage, "chain", capture_chain(what), **metadata)  # type: ignore[arg-type]
