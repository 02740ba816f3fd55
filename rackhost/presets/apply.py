"""Putting presets into a session, and making presets from one."""

from __future__ import annotations

from rackhost.chain import Chain, LoudnessTarget, Session, Track
from rackhost.chain.master import MasterBus
from rackhost.presets.preset import Preset, RestoreReport, capture_chain, restore_chain


def apply_preset(
    preset: Preset, session: Session, track: Track | None = None, *, replace: bool = True, source: str | None = None
) -> RestoreReport:
    """Load ``preset`` into ``track``'s chain (or the master's, for a master preset).

    With ``replace`` the chain becomes the preset's; without, the preset's slots
    are appended (several presets applied in order). Fresh plug-ins are made
    and set before anything in the session changes, so a bad preset changes nothing.
    """
    chain, report = restore_chain(preset, source)
    if preset.kind == "master" or track is None:
        _into(session.master.chain, chain, replace)
        if preset.gain_db is not None:
            session.master.gain_db = preset.gain_db
        if preset.loudness_target_lufs is not None:
            session.master.loudness_target = LoudnessTarget(
                preset.loudness_target_lufs,
                preset.true_peak_ceiling_dbtp if preset.true_peak_ceiling_dbtp is not None else -1.0,
            )
        return report
    _into(track.chain, chain, replace)
    if preset.kind == "track":
        if preset.gain_db is not None:
            track.gain_db = preset.gain_db
        if preset.pan is not None:
            track.pan = preset.pan
    return report


def _into(target: Chain, source: Chain, replace: bool) -> None:
    if replace:
        target.slots[:] = source.slots
    else:
        target.slots.extend(source.slots)


def preset_from(name: str, stage: str, what: Chain | Track | MasterBus, **metadata: object) -> Preset:
    """A preset of a chain, a whole track (chain, gain, pan) or the master (chain, gain, loudness target)."""
    if isinstance(what, Track):
        return Preset(name, stage, "track", capture_chain(what.chain), gain_db=what.gain_db, pan=what.pan, **metadata)  # type: ignore[arg-type]
    if isinstance(what, MasterBus):
        target = what.loudness_target
        return Preset(
            name, stage, "master", capture_chain(what.chain), gain_db=what.gain_db,
            loudness_target_lufs=target.integrated_lufs if target else None,
            true_peak_ceiling_dbtp=target.true_peak_dbtp if target else None,
            **metadata,  # type: ignore[arg-type]
        )
    return Preset(name, stage, "chain", capture_chain(what), **metadata)  # type: ignore[arg-type]
