"""pedalboard's built-in processors: which exist, and the range of each parameter.

pedalboard exposes a built-in's parameters as plain attributes with no range or
unit, so the ranges live here, chosen from what the underlying JUCE processors
accept and what an engineer would dial in.
"""

from __future__ import annotations

import pedalboard

from rackhost.chain.parameters import ParameterInfo


_FILTER_HZ = (1.0, 40000.0, "Hz")
_SHELF = {"cutoff_frequency_hz": _FILTER_HZ, "gain_db": (-36.0, 36.0, "dB"), "q": (0.05, 20.0, "")}
_COMPRESSION = {
    "threshold_db": (-100.0, 0.0, "dB"),
    "ratio": (1.0, 100.0, ""),
    "attack_ms": (0.0, 1000.0, "ms"),
    "release_ms": (0.0, 5000.0, "ms"),
}

# Built-in name -> {parameter: (minimum, maximum, unit) | "bool" | "path"}.
# Enum parameters (LadderFilter.mode, Resample.quality) are found by their type.
BUILTIN_PARAMETERS: dict[str, dict[str, object]] = {
    "Bitcrush": {"bit_depth": (0.0, 32.0, "bits")},
    "BrickwallLimiter": {
        "ceiling_db": (-60.0, 0.0, "dB"),
        "release_ms": (1.0, 5000.0, "ms"),
        "lookahead_ms": (0.0, 50.0, "ms"),
        "true_peak": "bool",
    },
    "Chorus": {
        "rate_hz": (0.0, 100.0, "Hz"),
        "depth": (0.0, 1.0, ""),
        "centre_delay_ms": (1.0, 100.0, "ms"),
        "feedback": (-1.0, 1.0, ""),
        "mix": (0.0, 1.0, ""),
    },
    "Clipping": {"threshold_db": (-100.0, 0.0, "dB")},
    "Compressor": _COMPRESSION,
    "Convolution": {"impulse_response_filename": "path", "mix": (0.0, 1.0, "")},
    "Delay": {"delay_seconds": (0.0, 30.0, "s"), "feedback": (0.0, 1.0, ""), "mix": (0.0, 1.0, "")},
    "Distortion": {"drive_db": (0.0, 100.0, "dB")},
    "GSMFullRateCompressor": {"quality": "enum"},
    "Gain": {"gain_db": (-120.0, 48.0, "dB")},
    "HighShelfFilter": _SHELF,
    "HighpassFilter": {"cutoff_frequency_hz": _FILTER_HZ},
    "Invert": {},
    "LadderFilter": {
        "mode": "enum",
        "cutoff_hz": _FILTER_HZ,
        "resonance": (0.0, 1.0, ""),
        "drive": (1.0, 100.0, ""),
    },
    "Limiter": {"threshold_db": (-100.0, 0.0, "dB"), "release_ms": (0.0, 5000.0, "ms")},
    "LowShelfFilter": _SHELF,
    "LowpassFilter": {"cutoff_frequency_hz": _FILTER_HZ},
    "MP3Compressor": {"vbr_quality": (0.0, 10.0, "")},
    "NoiseGate": _COMPRESSION,
    "PeakFilter": _SHELF,
    "Phaser": {
        "rate_hz": (0.0, 100.0, "Hz"),
        "depth": (0.0, 1.0, ""),
        "centre_frequency_hz": (1.0, 20000.0, "Hz"),
        "feedback": (-1.0, 1.0, ""),
        "mix": (0.0, 1.0, ""),
    },
    "PitchShift": {"semitones": (-72.0, 72.0, "st")},
    "Resample": {"target_sample_rate": (1000.0, 384000.0, "Hz"), "quality": "enum"},
    "Reverb": {
        "room_size": (0.0, 1.0, ""),
        "damping": (0.0, 1.0, ""),
        "wet_level": (0.0, 1.0, ""),
        "dry_level": (0.0, 1.0, ""),
        "width": (0.0, 1.0, ""),
        "freeze_mode": (0.0, 1.0, ""),
    },
}

# Built-ins that cannot be constructed without an argument, with a note for the user.
REQUIRED_ARGUMENTS = {"Convolution": "impulse_response_filename"}

# Parameters that never change how much audio a built-in holds back: its probed latency is cached by the
# others (rackhost.chain.plugin), so a loudness target's copy of the limiter, at each ceiling it tries, finds
# the latency measured once. BrickwallLimiter's ceiling and release move its gain, not its lookahead delay
# (its lookahead and true-peak oversampling do change it). A parameter not listed is taken to matter: leaving
# one out costs a probe, never a wrong latency (tests/test_latency_cache.py sweeps those listed).
LATENCY_NEUTRAL_PARAMETERS: dict[str, frozenset[str]] = {
    "BrickwallLimiter": frozenset({"ceiling_db", "release_ms"}),
    "Gain": frozenset({"gain_db"}),
}


# Built-ins that cannot run block by block, and why (rackhost runs every plug-in that way, offline too).
# pedalboard (0.9.x) primes these two through a delay line (its PrimeWithSilence) whose prepare(), run at
# every process() call, clears it: what was in it is lost at each call. PitchShift's holds one second,
# so called a block at a time it never lets the input through; GSMFullRateCompressor's holds 160 samples
# at 8 kHz, so below 960 frames a call (at 48 kHz) it puts out noise, and above it drops 20 ms per call.
# They are refused when created, rather than rendering silence or noise.
BLOCKWISE_BROKEN_BUILTINS: dict[str, str] = {
    "PitchShift": (
        "pedalboard's PitchShift clears its one-second priming buffer at every call, so run block by block, "
        "as rackhost runs every plug-in, it puts out silence; pitch-shift the file beforehand "
        "(pedalboard.PitchShift on the whole file) or use a pitch-shifter VST3"
    ),
    "GSMFullRateCompressor": (
        "pedalboard's GSMFullRateCompressor clears its 20 ms priming buffer at every call, so run block by "
        "block, as rackhost runs every plug-in, it puts out noise or drops 20 ms a block; encode the file "
        "beforehand (pedalboard.GSMFullRateCompressor on the whole file) or use MP3Compressor"
    ),
}


def builtin_names() -> list[str]:
    return sorted(BUILTIN_PARAMETERS)


def chain_builtin_names() -> list[str]:
    """The built-ins a chain takes: every one but those that cannot run block by block."""
    return [name for name in builtin_names() if name not in BLOCKWISE_BROKEN_BUILTINS]


def is_builtin(name: str) -> bool:
    return name in BUILTIN_PARAMETERS


def builtin_class(name: str) -> type:
    return getattr(pedalboard, name)


def describe_builtin(name: str, instance: pedalboard.Plugin | None = None) -> dict[str, ParameterInfo]:
    """Parameter descriptions for a built-in; defaults are read from a fresh instance."""
    table = BUILTIN_PARAMETERS[name]
    if instance is None and name not in REQUIRED_ARGUMENTS:
        instance = builtin_class(name)()
    out: dict[str, ParameterInfo] = {}
    for pname, spec in table.items():
        default = getattr(instance, pname, None) if instance is not None else None
        if spec == "enum":
            enum_type = type(default)
            choices = tuple(enum_type.__members__)
            out[pname] = ParameterInfo(pname, "choice", default.name if default is not None else None, choices=choices)
        elif spec == "bool":
            out[pname] = ParameterInfo(pname, "bool", bool(default) if default is not None else None)
        elif spec == "path":
            out[pname] = ParameterInfo(pname, "path", None)
        else:
            lo, hi, unit = spec  # type: ignore[misc]
            value = float(default) if default is not None else None
            out[pname] = ParameterInfo(pname, "float", value, lo, hi, unit)
    return out


def enum_value(instance: pedalboard.Plugin, name: str, choice: str) -> object:
    """The enum member named ``choice`` for an enum-typed built-in parameter."""
    return type(getattr(instance, name)).__members__[choice]
