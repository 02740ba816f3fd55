"""Writes the factory presets in presets/<stage>/ from chains built with the rackhost API.

Run after changing a chain here: `.venv/bin/python scripts/make_factory_presets.py`.
Building them through the API checks every plug-in and parameter name; only
values that differ from the plug-in's defaults are kept, and no plug-in state
(named values are portable across plug-in versions, binary state is not).
"""

from __future__ import annotations

from pathlib import Path

from rackhost.chain import Chain, LoudnessTarget
from rackhost.chain.bus import Bus
from rackhost.chain.master import MasterBus
from rackhost.presets.apply import preset_from
from rackhost.presets.preset_file import write_preset
from rackhost.presets.store import FACTORY_DIR, file_stem

AUTHOR = "rackhost factory"
CREATED = {"reverb-send": "2026-12-07T00:00:00+00:00"}  # presets added after the first library


def chain(*items: tuple[str, dict] | tuple[str, dict, float]) -> Chain:
    out = Chain()
    for item in items:
        name, values = item[0], item[1]
        slot = out.add(name, **values)
        if len(item) == 3:
            slot.set_mix(item[2])  # type: ignore[misc]
    return out


def master(target: tuple[float, float] | None, *items: tuple[str, dict]) -> MasterBus:
    bus = MasterBus(chain(*items))
    bus.loudness_target = LoudnessTarget(*target) if target else None
    return bus


def bus(name: str, gain_db: float, *items: tuple[str, dict]) -> Bus:
    return Bus(name, chain(*items), gain_db=gain_db)


MASTER_EQ = [("HighpassFilter", {"cutoff_frequency_hz": 25.0}),
             ("LowShelfFilter", {"cutoff_frequency_hz": 90.0, "gain_db": 0.5}),
             ("HighShelfFilter", {"cutoff_frequency_hz": 12000.0, "gain_db": 1.0})]

PRESETS = [
    # -- tracking: what an engineer records through ----------------------------------
    ("tracking", "vocal", "Clean vocal tracking: rumble cut, gentle gate, 3:1 compression, a little presence.",
     ["vocal", "voice"], chain(
         ("HighpassFilter", {"cutoff_frequency_hz": 90.0}),
         ("ZamGate", {"threshold_db": -55.0, "attack_ms": 1.0, "release_ms": 120.0}),
         ("ZamComp", {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 80.0, "makeup_db": 3.0}),
         ("PeakFilter", {"cutoff_frequency_hz": 3500.0, "gain_db": 2.0, "q": 0.8}))),
    ("tracking", "bass-di", "Bass guitar DI: tight low end and even level with a 4:1 compressor.",
     ["bass", "di"], chain(
         ("HighpassFilter", {"cutoff_frequency_hz": 35.0}),
         ("ZamComp", {"threshold_db": -24.0, "ratio": 4.0, "attack_ms": 10.0, "release_ms": 150.0, "makeup_db": 4.0}),
         ("LowShelfFilter", {"cutoff_frequency_hz": 100.0, "gain_db": 2.0}))),
    ("tracking", "guitar-amp", "Clean DI guitar into a tube stage, cab-like top roll-off and a small room.",
     ["guitar", "amp"], chain(
         ("ZamTube", {"tube_drive": 3.0}),
         ("HighpassFilter", {"cutoff_frequency_hz": 80.0}),
         ("LowpassFilter", {"cutoff_frequency_hz": 6500.0}),
         ("Reverb", {"room_size": 0.2, "damping": 0.6, "wet_level": 1.0, "dry_level": 0.0}, 0.15))),
    ("tracking", "drum-overheads", "Overheads: low cut under the kit, gate for bleed, fast stereo compression.",
     ["drums", "overheads"], chain(
         ("HighpassFilter", {"cutoff_frequency_hz": 120.0}),
         ("ZamGateX2", {"threshold_db": -50.0, "release_ms": 200.0}),
         ("ZamCompX2", {"threshold_db": -18.0, "ratio": 2.5, "attack_ms": 8.0, "release_ms": 120.0}))),
    # -- mixing: bus and track processing ---------------------------------------------
    ("mixing", "drum-bus", "Drum bus punch: 4:1 glue with a slow attack, air on top, blended 70% wet (parallel).",
     ["drums", "bus", "parallel"], chain(
         ("ZamCompX2", {"threshold_db": -20.0, "ratio": 4.0, "attack_ms": 20.0, "release_ms": 100.0, "makeup_db": 4.0}, 0.7),
         ("HighShelfFilter", {"cutoff_frequency_hz": 10000.0, "gain_db": 2.0}))),
    ("mixing", "vocal-polish", "Lead vocal in the mix: de-mud, level, plate-like reverb and a quiet slap delay.",
     ["vocal"], chain(
         ("PeakFilter", {"cutoff_frequency_hz": 300.0, "gain_db": -2.5, "q": 1.2}),
         ("ZamCompX2", {"threshold_db": -22.0, "ratio": 3.0, "attack_ms": 3.0, "release_ms": 60.0, "makeup_db": 3.0}),
         ("Reverb", {"room_size": 0.45, "damping": 0.4, "wet_level": 1.0, "dry_level": 0.0}, 0.18),
         ("Delay", {"delay_seconds": 0.11, "feedback": 0.15, "mix": 1.0}, 0.1))),
    ("mixing", "bass-glue", "Bass sitting under the kick: steady level and a little warmth from tube saturation.",
     ["bass"], chain(
         ("ZamCompX2", {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 15.0, "release_ms": 120.0, "makeup_db": 2.0}),
         ("ZamTube", {"tube_drive": 1.5}),
         ("LowpassFilter", {"cutoff_frequency_hz": 9000.0}))),
    ("mixing", "mix-bus-glue", "Mix bus: a slow 2:1 compressor for glue, 1-2 dB of gain reduction on peaks.",
     ["bus", "glue"], chain(
         ("ZamCompX2", {"threshold_db": -14.0, "ratio": 2.0, "attack_ms": 30.0, "release_ms": 200.0, "knee_db": 6.0}))),
    ("mixing", "reverb-send", "A shared reverb return for a bus fed by sends: a medium room, all wet (no dry "
     "signal), its lows and highs trimmed so the wash stays out of the way.",
     ["reverb", "send", "bus", "return"], bus("reverb", 0.0,
         ("HighpassFilter", {"cutoff_frequency_hz": 300.0}),
         ("LowpassFilter", {"cutoff_frequency_hz": 9000.0}),
         ("Reverb", {"room_size": 0.7, "damping": 0.5, "wet_level": 0.33, "dry_level": 0.0, "width": 1.0}))),
    # -- mastering: the master bus, with loudness targets -----------------------------
    ("mastering", "streaming", "Master for streaming services: -14 LUFS integrated, true peak at or below -1 dBTP.",
     ["master", "streaming", "loudness"], master((-14.0, -1.0), *MASTER_EQ,
         ("ZamCompX2", {"threshold_db": -16.0, "ratio": 2.0, "attack_ms": 30.0, "release_ms": 200.0, "knee_db": 6.0}),
         ("BrickwallLimiter", {"ceiling_db": -1.0, "true_peak": True, "release_ms": 80.0}))),
    ("mastering", "cd", "Loud master for CD: -9 LUFS integrated, true peak at or below -0.3 dBTP.",
     ["master", "cd", "loudness"], master((-9.0, -0.3), *MASTER_EQ,
         ("ZamCompX2", {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 20.0, "release_ms": 150.0, "knee_db": 6.0}),
         ("ZaMaximX2", {"threshold_db": -3.0, "release_ms": 20.0}),
         ("BrickwallLimiter", {"ceiling_db": -0.3, "true_peak": True, "release_ms": 50.0}))),
    ("mastering", "podcast", "Spoken word: -16 LUFS integrated, true peak at or below -1 dBTP, rumble removed.",
     ["master", "podcast", "speech", "loudness"], master((-16.0, -1.0),
         ("HighpassFilter", {"cutoff_frequency_hz": 70.0}),
         ("ZamCompX2", {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 150.0}),
         ("BrickwallLimiter", {"ceiling_db": -1.0, "true_peak": True}))),
    ("mastering", "broadcast-ebu", "Broadcast delivery to EBU R128: -23 LUFS integrated, true peak at or below -1 dBTP.",
     ["master", "broadcast", "loudness"], master((-23.0, -1.0),
         ("ZamCompX2", {"threshold_db": -24.0, "ratio": 1.5, "attack_ms": 30.0, "release_ms": 300.0, "knee_db": 8.0}),
         ("BrickwallLimiter", {"ceiling_db": -1.0, "true_peak": True}))),
]


def main() -> None:
    for stage, name, description, tags, what in PRESETS:
        preset = preset_from(name, stage, what, description=description, tags=tags, author=AUTHOR)
        for state, slot in zip(preset.slots, what.chain if isinstance(what, (MasterBus, Bus)) else what):
            defaults = slot.plugin.parameters
            # Rounded for people reading the file: values come back from plug-ins as float32 or quantized.
            state.parameters = {
                k: round(v, 4) if isinstance(v, float) else v
                for k, v in state.parameters.items()
                if v != defaults[k].default
            }
            state.raw_state = None
            state.plugin = {k: v for k, v in state.plugin.items() if k in ("format", "name", "vendor")}
        preset.created = preset.modified = CREATED.get(name, "2026-11-25T00:00:00+00:00")
        path = FACTORY_DIR / stage / f"{file_stem(name)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_preset(preset, path)
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


if __name__ == "__main__":
    main()
