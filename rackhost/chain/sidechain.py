"""A slot's key: which strip its detector hears, and the stage that runs a keyed slot.

A keyed slot holds an ordinary :class:`~rackhost.chain.plugin.Plugin` (its
parameters, presets, window and saved state are the plug-in's, as in any slot)
and a :class:`Key` naming a track or bus, tapped before or after its fader.
pedalboard cannot feed a key (see :mod:`rackhost.chain.keyed`), so the slot is
run by a :class:`~rackhost.chain.keyed.KeyedPlugin` twin of the plug-in,
hosted through minihost and given the slot's parameter values. The twin is
kept with the plug-in across snapshots (and across the live engine's resyncs,
which keep plug-in instances): a routing edit while playing never reloads it
nor cuts its envelope.

Where the key comes from and how it is delayed is the router's business
(:mod:`rackhost.chain.routing`, :class:`rackhost.chain.mixer.Router`, and for a
track keyed by tracks :class:`rackhost.chain.mixer.TrackStrip`): it writes each
segment's key into :attr:`KeyedStage.key` before the chain runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rackhost.chain.keyed import (KEYED_VST3_VARIABLE, KeyedPlugin, KeyedPluginError, find_keyed_plugin,
                                  keyed_plugins, lv2_key_ports)
from rackhost.chain.plugin import SIDECHAIN_SWITCH, MissingPlugin, Plugin
from rackhost.chain.teardown import muted_stderr
from rackhost.errors import RackhostError


class Slot(Protocol):
    """A chain's slot, as far as a key needs it (chain.py imports this module, not the reverse)."""

    plugin: Plugin


class NotKeyableError(RackhostError):
    """A key was given to a slot whose plug-in has no key input."""

    def __init__(self, plugin: str, reason: str):
        self.plugin = plugin
        known = ", ".join(sorted(keyed_plugins())) or "none found (run 'make plugins', or install zam-plugins)"
        super().__init__(f"{plugin} cannot take a key ({reason}); plug-ins that can: {known}")


@dataclass(eq=False)
class Key:
    """What a keyed slot's detector hears: the track or bus named ``source``, before its fader and pan
    (``pre_fader``) or after them. A muted source gives a silent key; a solo never changes a key."""

    source: str
    pre_fader: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"a key needs the name of the track or bus it comes from; got {self.source!r}")
        self.pre_fader = bool(self.pre_fader)


def keyed_twin(plugin: Plugin, sample_rate: float, max_block: int) -> KeyedPlugin:
    """A :class:`KeyedPlugin` of ``plugin`` (by name, so a keyed build is found first), or
    :class:`NotKeyableError` saying why not and which plug-ins can.

    Never the very bundle pedalboard hosts for the slot: two JUCE hosts sharing one bundle in a process
    share its module, and when one releases it, its module exit tears down the plug-in's factory under
    the other, whose next load of that bundle segfaults (measured with ZamCompX2 and MVerb; that was the
    crash a full test run once had). A VST3 whose own build hears a key is served from a copy in
    ``$RACKHOST_KEYED_VST3_PATH`` instead.
    """
    if plugin.is_builtin:
        raise NotKeyableError(plugin.name, "pedalboard's built-ins have no key input")
    hosted = Path(plugin.identity.path).resolve() if plugin.identity.path else None
    stem = hosted.stem if hosted is not None else plugin.name
    errors = []
    for ref in dict.fromkeys([stem, plugin.name]):
        try:
            found = find_keyed_plugin(ref)
        except KeyedPluginError as err:
            errors.append(str(err))
            continue
        if hosted is not None and found.resolve() == hosted:
            errors.append(f"rackhost hosts {hosted} through pedalboard already, and one bundle in two plug-in "
                          f"hosts of one process crashes it; copy the bundle into a folder named in "
                          f"{KEYED_VST3_VARIABLE} to key it")
            continue
        try:
            with muted_stderr():  # lilv's notes on loading an LV2 bundle tell the user nothing
                return KeyedPlugin(found, sample_rate, max_block)
        except KeyedPluginError as err:
            errors.append(str(err))
            if "need minihost" in str(err):
                break
    if hosted is not None and hosted.suffix == ".vst3" and not any("need minihost" in e for e in errors):
        errors.append(f"no keyed build of it is known; if {hosted.name} has a sidechain bus, copy the bundle "
                      f"into a folder named in {KEYED_VST3_VARIABLE}")
    raise NotKeyableError(plugin.name, errors[-1] if errors else "it was not found")


class KeyedRunner:
    """The twin of a keyed slot's plug-in, kept with the plug-in, with the values last given to it."""

    def __init__(self, plugin: Plugin, sample_rate: float, max_block: int):
        self.twin = keyed_twin(plugin, sample_rate, max_block)
        self.sample_rate = float(sample_rate)
        self.max_block = int(max_block)
        self.values: dict[str, object] = {}

    @property
    def parameters(self) -> _TwinParameters:
        """The twin, set like a pedalboard instance (made per call: no cycle keeps a dropped twin alive)."""
        return _TwinParameters(self)

    def fits(self, sample_rate: float, max_block: int) -> bool:
        return (float(sample_rate), int(max_block)) == (self.sample_rate, self.max_block)

    def follow(self, plugin: Plugin) -> None:
        """Give the twin every control value of ``plugin`` that changed; its sidechain switch stays on."""
        for name, value in plugin.values().items():
            if SIDECHAIN_SWITCH.fullmatch(name) or self.values.get(name) == value:
                continue
            self.twin.set_parameter(name, value)  # type: ignore[arg-type]
            self.values[name] = value

    def set(self, name: str, value: object) -> None:
        """A parameter change from the live engine (at a block boundary, on the audio thread)."""
        if not SIDECHAIN_SWITCH.fullmatch(name):
            self.twin.set_parameter(name, value)  # type: ignore[arg-type]
            self.values[name] = value


class _TwinParameters:
    """Set like a pedalboard instance (``setattr(p, "ratio", 4.0)``): the live engine's parameter queue sets
    a keyed slot's twin through this, at the same block boundary as the plug-in itself."""

    __slots__ = ("_runner",)

    def __init__(self, runner: KeyedRunner):
        object.__setattr__(self, "_runner", runner)

    def __setattr__(self, name: str, value: object) -> None:
        self._runner.set(name, value)


RUNNER = "_keyed_runner"  # where a plug-in keeps its twin


def twin_of(plugin: Plugin) -> KeyedRunner | None:
    """The plug-in's keyed twin, if a keyed slot made one."""
    return plugin.__dict__.get(RUNNER)


def forget_twin(plugin: Plugin) -> None:
    """Drop the twin: the next snapshot makes a fresh one (a reset; minihost's own reset keeps envelopes)."""
    plugin.__dict__.pop(RUNNER, None)  # a twin a snapshot still runs is freed with that snapshot


def runner(slot: Slot, sample_rate: float, max_block: int) -> KeyedRunner:
    """The twin of the slot's plug-in, made now if it has none (or one for another rate or block size),
    with the plug-in's values."""
    current = twin_of(slot.plugin)
    if current is None or not current.fits(sample_rate, max_block):
        forget_twin(slot.plugin)
        current = KeyedRunner(slot.plugin, sample_rate, max_block)
        slot.plugin.__dict__[RUNNER] = current
    current.follow(slot.plugin)
    return current


def check_keyable(slot: Slot) -> None:
    """Refuse a key on a slot whose plug-in cannot take one (a missing plug-in is let through: it is bypassed).

    A keyed slot may run on a stereo strip (a bus, the master, a stereo track): a keyed plug-in with a mono main
    input (ZamComp's LV2 build) is refused too, as its twin cannot run as dual mono (one key, two detectors).
    """
    if isinstance(slot.plugin, MissingPlugin):
        return
    twin = twin_of(slot.plugin) or runner(slot, slot.plugin.sample_rate or 48000.0, 512)
    if twin.twin.main_channels < 2:
        forget_twin(slot.plugin)
        stereo = [n for n, b in keyed_plugins().items() if b.suffix == ".vst3" or len(lv2_key_ports(b).main) >= 2]
        raise NotKeyableError(slot.plugin.name, f"its key input comes with a mono main input, and a keyed slot must "
                                                f"run in stereo; use "
                                                f"{' or '.join(sorted(stereo)) or 'a stereo one'}")


class KeyedStage:
    """A keyed slot in a chain's stages: ``stage(main)`` processes with its detector on :attr:`key`.

    The router writes the segment's key into ``key[:, :n]`` before the chain
    runs; left alone (no router), the key is silence.
    """

    __slots__ = ("twin", "key", "latency", "_direct", "_max_block")

    def __init__(self, twin: KeyedPlugin, channels: int, max_segment: int):
        self.twin = twin
        self.key = np.zeros((2, max_segment), np.float32)
        self.latency = twin.latency
        # A live block as wide as the plug-in's main input goes straight in, with no allocation.
        self._direct = channels == twin.main_channels and channels == twin.ports.outputs
        self._max_block = twin.max_block

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        if self._direct and n <= self._max_block and block.dtype == np.float32:
            return self.twin.process_block(block, self.key[:, :n])
        return self.twin.process(block, self.key[:, :n])
