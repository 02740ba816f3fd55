"""A plug-in in a slot: a pedalboard built-in or an external VST3/AU, adapted to a track's channels.

Mono/stereo adaptation follows what Carla and REAPER do:

* a mono-only plug-in on a stereo track runs as **dual mono**: two instances,
  one per channel, every parameter set on both;
* a stereo-only plug-in on a mono track gets the mono signal on both inputs and
  **widens** the track: its stereo output goes on down the chain (the track is
  stereo from there, and its pan becomes a balance), as every DAW does;
* only where the user asks for it (a track's ``keep_mono``), its two outputs are
  **summed back** to mono at -6 dB each, so a signal the plug-in passes
  unchanged keeps its level.

The choice is made by :meth:`Plugin.configure` and described in :attr:`Plugin.note`;
:attr:`Plugin.output_channels` says how wide the plug-in's output is.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pedalboard
import pedalboard._pedalboard

from rackhost.chain import builtins
from rackhost.chain.discovery.cache import PluginCache
from rackhost.chain.discovery.trust import check_trusted, scan_folders
from rackhost.chain.folders import find_plugin_file, find_plugin_files
from rackhost.chain.parameters import (
    ParameterInfo,
    ParameterValue,
    is_internal_parameter,
    is_output_parameter,
)
from rackhost.chain.teardown import muted_stderr
from rackhost.chain.dsp import forget_carried
from rackhost.errors import (
    ChannelLayoutError,
    ParameterValueError,
    PluginLoadError,
    PluginNotFoundError,
    PluginProbeFailed,
    UnknownParameterError,
)

log = logging.getLogger(__name__)

PluginFormat = Literal["builtin", "vst3", "au"]
# Silence run through a plug-in by flush(): at least the blocks it is then given (live 64-512, offline
# 512 by default), so it is not prepared again for them while active. Larger blocks would cost every
# flush more (a lookahead limiter takes about 1 ms per 1024 frames) at each capture of a session.
FLUSH_FRAMES = 1024
AdaptationMode = Literal["direct", "dual_mono", "widen", "stereo_on_mono", "mono_instrument"]
# How wide each mode's output is, where it differs from the track's width at the plug-in.
_OUTPUT_CHANNELS: dict[str, int] = {"dual_mono": 2, "widen": 2, "stereo_on_mono": 1, "mono_instrument": 2}
# A parameter that switches a plug-in's detector to its sidechain (key) input: "sidechain", "side_chain",
# "sc", optionally with "_on"/"_enable"/"_enabled"/"_active"/"_switch" (not "sidechain_hpf_hz", a setting).
SIDECHAIN_SWITCH = re.compile(r"(side_?chain|sc)(_(on|enable|enabled|active|switch))?", re.IGNORECASE)
_OFF_CHOICES = {"off", "0", "false", "no", "none", "internal", "disabled", "bypass"}

# DPF instruments expose 2,080 "MIDI Ch. N CC M" proxy parameters (MIDI CCs
# mapped onto parameters); enumerating them made Kars take ~13 s to load, and
# they are never a user's controls (CCs reach the instrument as MIDI anyway).
# pedalboard skips parameters whose names match these patterns: 0.06 s.
MIDI_CC_PROXY = re.compile(r"MIDI Ch\. \d+ CC \d+")
pedalboard._pedalboard.PARAMETER_NAME_REGEXES_TO_IGNORE.add(MIDI_CC_PROXY)

# pedalboard's loader sweeps every parameter's value range (1,001 steps each) to apply initial values,
# even when there are none, and the wrapper it caches them on is not the one it returns: the first
# `.parameters` sweeps them all again. rackhost never passes initial values, so the first sweep is skipped
# (every VST3 load takes half the time; ZamVerb's, where a sweep reloads its impulse responses, ~90 s less).
_set_initial_values = pedalboard._pedalboard._PythonExternalPluginMixin.__set_initial_parameter_values__


def _set_given_initial_values(instance: object, values: dict | None) -> None:
    if values:
        _set_initial_values(instance, values)


pedalboard._pedalboard._PythonExternalPluginMixin.__set_initial_parameter_values__ = _set_given_initial_values

# Built-ins that buffer audio (MP3Compressor, Resample, BrickwallLimiter's lookahead) return fewer
# samples than given until their buffer fills; feeding silence until a block comes back whole measures
# that latency. How many they hold back depends on the block they are given (MP3Compressor at 48 kHz:
# 3,609 at 128 frames, 3,481 at 256, 3,357 at 300), so the probe runs at the block the plug-in will run
# at. It gives up after this many seconds of silence.
_LATENCY_PROBE_MAX_SECONDS = 8.0
# A resampler also comes back a sample short now and then after it first fills (Resample from 44.1 to
# 8 kHz at 1000-frame blocks: 420 samples at first, 423 after 3.6 s), so a built-in that held anything
# back is run on for this long, and its latency is the most it held back (the chain queues the rest).
_LATENCY_PROBE_SETTLE_SECONDS = 4.0
# Probed latencies, shared by every built-in in the process: a probe runs seconds of silence through a fresh
# instance (BrickwallLimiter's, 0.03 s of CPU), and a loudness-target render copies the limiter and sets its
# ceiling each pass, so a cache of each instance's own, keyed by every value, probed about four times a render.
# Keyed by what decides the latency (see _latency_key); oldest entries go past this many (a Gain's key holds
# no gain, but a chain's filters' keys hold their values, and a batch may try many).
_LATENCY_CACHE: dict[tuple, int] = {}
_LATENCY_CACHE_SIZE = 512
_LATENCY_CACHE_LOCK = threading.Lock()  # latency() is asked from the window's, the engine's and a render's threads
# Built-ins that garble audio when one call is longer than this, so rackhost hands them longer blocks in
# pieces. pedalboard's MP3Compressor (0.9.x) called block by block at blocks above one MP3 frame (1,152
# samples) comes back late and smeared at about one block size in twelve (1,213, 1,269, 1,976, 3,747
# frames among them: likeness to its input 0.3-0.9 where every block up to 1,152 gives 1.000). Given a
# buffer size of 1,152, pedalboard cuts each call into pieces that long, and it is right at every block
# size (tests/test_builtin_latency.py).
_MAX_CALL_FRAMES = {"MP3Compressor": 1152}
# Built-ins that cannot run block by block: see rackhost.chain.builtins, where listings leave them out too.
BLOCKWISE_BROKEN_BUILTINS = builtins.BLOCKWISE_BROKEN_BUILTINS


# The probe guard in front of every external load (rackhost.chain.discovery.guard.check_probed),
# handed in by rackhost/chain/__init__.py rather than imported: the guard runs the probe in a child
# process, and the probe describes the bundle with this module.
_load_guard: Callable[[Path], object] | None = None


def set_load_guard(guard: Callable[[Path], object]) -> None:
    """Install the check every :meth:`Plugin.load` runs first (it raises to refuse the bundle)."""
    global _load_guard
    _load_guard = guard


@dataclass(frozen=True)
class PluginIdentity:
    """What names a plug-in across machines: its format, name, and where known vendor and id."""

    format: PluginFormat
    name: str
    path: str | None = None
    vendor: str = ""
    uid: str = ""
    version: str = ""

    def to_dict(self) -> dict:
        out = {"format": self.format, "name": self.name}
        for key in ("path", "vendor", "uid", "version"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


class Plugin:
    """One plug-in as the engine sees it: named parameters, channel adaptation, latency.

    Create with :meth:`Plugin.create` (a built-in name, a VST3 name, or a path),
    :meth:`Plugin.builtin` or :meth:`Plugin.load`.
    """

    def __init__(
        self,
        identity: PluginIdentity,
        factory: Callable[[dict], pedalboard.Plugin],
        instance: pedalboard.Plugin,
        parameters: dict[str, ParameterInfo],
        constructor_values: dict | None = None,
    ):
        self.identity = identity
        self.parameters = parameters
        self._factory = factory
        self._instances: list[pedalboard.Plugin] = [instance]
        # Built-ins with a constructor-only argument (Convolution's file) are rebuilt from these.
        self._constructor_values = dict(constructor_values or {})
        self._layouts: dict[int, bool] = {}
        self.channels: int | None = None
        self.sample_rate: float | None = None
        self.mode: AdaptationMode = "direct"
        self.note: str | None = None
        self._widen = False  # configured to widen a mono track (see configure)

    # -- creation -----------------------------------------------------------------

    @classmethod
    def create(cls, name_or_path: str, *, allow_untrusted: bool = False, **values: object) -> Plugin:
        """A built-in by class name, a VST3/AU by name (searched in the scan folders), or by path.

        A path outside every scanned folder is refused unless ``allow_untrusted``:
        loading a plug-in runs its code (see :mod:`rackhost.chain.discovery.trust`).
        """
        if builtins.is_builtin(name_or_path):
            return cls.builtin(name_or_path, **values)
        folders = scan_folders()
        path = Path(name_or_path)
        if path.suffix.lower() in (".vst3", ".component") or path.exists():
            if not allow_untrusted:
                check_trusted(path)
            plugin = cls.load(path)
        else:
            found = find_plugin_file(name_or_path, folders)
            if found is None:
                # By the name the plug-in shows ('3 Band EQ' for 3BandEQ.vst3), as listings and errors print it.
                bundles = find_plugin_files(folders)
                cache = PluginCache.load()
                shown = cache.display_names(bundles)
                found = cache.bundle_for_display_name(name_or_path, bundles)
            if found is None:
                known = builtins.chain_builtin_names() + sorted(bundles) + sorted(set(shown.values()))
                raise PluginNotFoundError(name_or_path, [str(f) for f in folders], known)
            plugin = cls.load(found)
        for key, value in values.items():
            plugin.set(key, value)
        return plugin

    @classmethod
    def builtin(cls, name: str, **values: object) -> Plugin:
        if not builtins.is_builtin(name):
            raise PluginNotFoundError(name, [], builtins.builtin_names())
        if name in BLOCKWISE_BROKEN_BUILTINS:
            raise PluginLoadError(name, BLOCKWISE_BROKEN_BUILTINS[name])
        klass = builtins.builtin_class(name)
        missing = builtins.REQUIRED_ARGUMENTS.get(name)
        if missing and missing not in values:
            raise ParameterValueError(name, missing, None, f"{name} needs {missing}=... when it is created")
        constructor_values = {k: v for k, v in values.items() if missing and k == missing}

        def factory(kwargs: dict) -> pedalboard.Plugin:
            try:
                return klass(**kwargs)
            except (ValueError, RuntimeError, TypeError) as err:
                raise PluginLoadError(name, str(err)) from err

        instance = factory(constructor_values)
        parameters = builtins.describe_builtin(name, instance)
        if missing:
            # A constructor-only file: the default is what the user gave.
            parameters[missing] = ParameterInfo(missing, "path", constructor_values[missing])
        plugin = cls(PluginIdentity("builtin", name), factory, instance, parameters, constructor_values)
        for key, value in values.items():
            if key not in constructor_values:
                plugin.set(key, value)
        return plugin

    @classmethod
    def load(cls, path: str | Path) -> Plugin:
        """Load an external plug-in bundle (VST3 everywhere, AU on macOS), once a child process loaded it safely.

        Every external load goes through here, so this is where a bundle that
        crashed or hung its probe is refused (:class:`PluginProbeFailed`), and
        where one never probed, or changed since, is probed first (see
        :mod:`rackhost.chain.discovery.guard`).
        """
        path = Path(path)
        if not path.exists():
            raise PluginLoadError(str(path), "no such file or folder")
        if _load_guard is None:
            raise PluginLoadError(str(path), "no probe guard is installed; import rackhost.chain, whose "
                                             "__init__ installs it, before loading a plug-in")
        _load_guard(path)
        return cls.load_unguarded(path, quiet=True)

    @classmethod
    def load_unguarded(cls, path: str | Path, quiet: bool = False) -> Plugin:
        """Load a bundle into this process without probing it first: for the probe's own child process only.

        ``quiet`` mutes what the plug-in prints while each instance is made (DPF's 3BandEQ
        prints two warnings a load); the probe keeps it, as it tells why a load crashed.
        """
        path = Path(path)
        if not path.exists():
            raise PluginLoadError(str(path), "no such file or folder")

        def factory(_: dict) -> pedalboard.Plugin:
            try:
                with muted_stderr() if quiet else contextlib.nullcontext():
                    return _with_wrappers_of_a_twin(str(path), pedalboard.load_plugin(str(path)))
            except (ImportError, RuntimeError, ValueError) as err:
                # pedalboard's first line is only "Failed to load plugin as VST3Plugin. Errors were:";
                # the reasons follow, one line per format tried.
                reason = " ".join(line.strip() for line in str(err).strip().splitlines() if line.strip())
                raise PluginLoadError(str(path), reason) from err

        instance = factory({})
        fmt: PluginFormat = "au" if path.suffix.lower() == ".component" else "vst3"
        identity = PluginIdentity(
            fmt,
            instance.name,
            str(path.resolve()),
            vendor=getattr(instance, "manufacturer_name", "") or "",
            uid=getattr(instance, "identifier", "") or "",
            version=getattr(instance, "version", "") or "",
        )
        return cls(identity, factory, instance, _described(path, instance))

    # -- parameters ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def is_builtin(self) -> bool:
        return self.identity.format == "builtin"

    @property
    def is_instrument(self) -> bool:
        """An instrument plays MIDI and takes no audio in (Kars, Nekobi): it is a track's source, not a slot."""
        if self.is_builtin or not self._instances:
            return False
        return bool(getattr(self._instances[0], "is_instrument", False))

    @property
    def instance(self) -> pedalboard.Plugin:
        """The first (in direct mode, the only) pedalboard instance."""
        return self._instances[0]

    @property
    def instances(self) -> tuple[pedalboard.Plugin, ...]:
        return tuple(self._instances)

    def info(self, name: str) -> ParameterInfo:
        try:
            return self.parameters[name]
        except KeyError:
            raise UnknownParameterError(self.name, name, sorted(self.controls())) from None

    def controls(self) -> dict[str, ParameterInfo]:
        """The parameters a user may set (outputs excluded)."""
        return {k: v for k, v in self.parameters.items() if not v.is_output}

    def get(self, name: str) -> ParameterValue:
        info = self.info(name)
        if info.type == "path":
            return self._constructor_values[name]
        value = getattr(self.instance, name)
        if info.type == "bool":
            return bool(value)
        if info.type == "choice":
            # pybind11 enums (built-ins' modes) are not enum.Enum but carry a .name
            return value.name if self.is_builtin else str(value)
        return float(value)

    def set(self, name: str, value: object) -> ParameterValue:
        """Set a control parameter on every instance; returns the value as stored."""
        info = self.info(name)
        coerced = info.coerce(self.name, value)
        if info.type == "path":
            self._constructor_values[name] = coerced
            self._rebuild_instances()
            return coerced
        native: object = coerced
        if info.type == "choice" and self.is_builtin:
            native = builtins.enum_value(self.instance, name, str(coerced))
        for inst in self._instances:
            try:
                setattr(inst, name, native)
            except (ValueError, TypeError) as err:
                raise ParameterValueError(self.name, name, value, str(err)) from err
        return coerced

    def values(self) -> dict[str, ParameterValue]:
        """Current values of every control parameter, by name."""
        return {name: self.get(name) for name in self.controls()}

    # -- channels -----------------------------------------------------------------

    def supports(self, channels: int, sample_rate: float = 48000.0) -> bool:
        """Whether the plug-in itself accepts ``channels`` in and out (built-ins take any)."""
        if self.is_builtin:
            return True
        if channels not in self._layouts:
            try:
                # Muted: DPF's 3BandEQ prints two warnings at each reset, these calls' included.
                with muted_stderr():
                    self._try_layout(channels, sample_rate)
                self._layouts[channels] = True
            except ValueError as err:
                if "does not support" not in str(err):
                    raise PluginLoadError(self.identity.path or self.name, str(err)) from err
                self._layouts[channels] = False
            with muted_stderr():
                self.instance.reset()
        return self._layouts[channels]

    def _try_layout(self, channels: int, sample_rate: float) -> None:
        """Run 32 frames on ``channels``; raises pedalboard's ValueError if the plug-in refuses them."""
        if self.is_instrument:  # it renders audio from MIDI; the layout is what it can render out
            self.instance.process([], 32 / sample_rate, sample_rate, num_channels=channels, reset=True)
        else:
            self.instance.process(np.zeros((channels, 32), np.float32), sample_rate, reset=True)

    def configure(self, channels: int, sample_rate: float, widen: bool = False) -> str | None:
        """Prepare to run on ``channels`` channels; returns a note if the plug-in was adapted.

        ``widen``: a stereo-only plug-in on mono audio puts out stereo (the track
        widens from here on); otherwise its outputs are summed back to mono.
        """
        if channels not in (1, 2):
            raise ChannelLayoutError(f"tracks are mono or stereo; got {channels} channels")
        widen = bool(widen) and channels == 1
        if (channels, sample_rate, widen) == (self.channels, self.sample_rate, self._widen):
            return self.note
        hot = self.channels is not None and not self.is_builtin
        before = [id(inst) for inst in self._instances]
        if hot:
            # A new layout for a plug-in that may be playing (a live track's input went from mono to
            # stereo): everything below (the layout probe, a twin, the reset) runs on a fresh instance
            # with the same state and values. The instances the running audio state holds are left alone
            # to play on until the new state is swapped in; touching them here cleared their tails and
            # made the audio callback wait on pedalboard's lock of the plug-in.
            self._instances = [self._clone_instance(flush=False)]
        other = 2 if channels == 1 else 1
        if self.supports(channels, sample_rate):
            mode: AdaptationMode = "direct"
            note = None
        elif self.supports(other, sample_rate):
            if self.is_instrument and channels == 2:
                mode = "mono_instrument"
                note = f"{self.name} plays in mono: its output feeds both channels of this stereo track"
            elif self.is_instrument:
                raise ChannelLayoutError(f"{self.name} plays only in stereo; an instrument track is stereo")
            elif channels == 2:
                mode = "dual_mono"
                note = (
                    f"{self.name} is mono-only: running it as dual mono on this stereo track "
                    f"(two instances, one per channel, parameters kept in step)"
                )
            elif widen:
                mode = "widen"
                note = (
                    f"{self.name} is stereo-only: feeding the mono signal to both its inputs; "
                    f"the track is stereo from here on (its pan works as a balance)"
                )
            else:
                mode = "stereo_on_mono"
                note = (
                    f"{self.name} is stereo-only: feeding this mono track to both its inputs "
                    f"and summing its outputs back to mono (the track keeps mono)"
                )
        else:
            raise ChannelLayoutError(
                f"{self.name} accepts neither mono nor stereo audio, so rackhost cannot host it on a track"
            )
        wanted = 2 if mode == "dual_mono" else 1  # one instance of an instrument, whatever its width
        while len(self._instances) < wanted:
            self._instances.append(self._clone_instance(flush=not hot))
        del self._instances[wanted:]
        if [id(inst) for inst in self._instances] != before:
            forget_carried(self)  # a new instance starts unprimed: what stood beside the old one starts afresh
        self.mode, self.note, self.channels, self.sample_rate = mode, note, channels, sample_rate
        self._widen = widen
        if not self.is_builtin:
            # Cloning a twin (dual mono) ran silence through the first instance after any reset before
            # this, and ZamTube's output then starts differently: a session's first render (configured
            # after its reset) differed from every later one. Leave the instances as reset() leaves them.
            self.reset()
        if note:
            log.info(note)
        return note

    def clone(self, flush: bool = True) -> Plugin:
        """An independent plug-in with the same settings, not yet configured for a track.

        ``flush=False``: copy without running the original (no block of silence through it), for a copy made
        while the original plays or after its processor was made: a run would prime its latency buffer
        behind the processor's back. Values set since its last run reach the copy by name all the same.
        """
        return Plugin(self.identity, self._factory, self._clone_instance(flush), self.parameters,
                      self._constructor_values)

    def flush(self) -> None:
        """Let the plug-in take values set since it last ran, so its ``raw_state`` is current.

        DPF plug-ins apply a parameter at their next ``process()`` call; silence
        does that. ``FLUSH_FRAMES`` of it, not a few: pedalboard prepares a plug-in
        for the largest block it has been given, and one left prepared for 32
        frames is prepared again for the next render's larger blocks while still
        active, which DPF plug-ins refuse with "assertion failure: ! fIsActive"
        on stderr (harmless: the output is the same, but it alarms the user).
        """
        if self.is_builtin:
            return
        width = 2 if self.supports(2) else 1
        if self.channels is not None:
            width = self.native_channels
        rate = self.sample_rate or 48000.0
        # After a render at smaller blocks (a session saved after it, a loudness target's second pass)
        # it is prepared again all the same: muted, as that is the only thing these calls print.
        with muted_stderr():
            for inst in self._instances:
                if self.is_instrument:
                    inst.process([], FLUSH_FRAMES / rate, rate, num_channels=width, reset=False)
                else:
                    inst.process(np.zeros((width, FLUSH_FRAMES), np.float32), rate, reset=False)

    @property
    def native_channels(self) -> int:
        """How many channels each instance runs with, as configured (see :meth:`configure`)."""
        return {"dual_mono": 1, "widen": 2, "stereo_on_mono": 2, "mono_instrument": 1}.get(
            self.mode, self.channels or 2)

    @property
    def output_channels(self) -> int:
        """How many channels come out, as configured: 2 where a stereo-only plug-in widens a mono track."""
        return _OUTPUT_CHANNELS.get(self.mode, self.channels or 2)

    def sidechain_switch(self) -> str | None:
        """The name of a sidechain switch parameter that is on, if any.

        pedalboard feeds a plug-in its main input only, so a detector switched
        to the key input hears silence (ZamCompX2 with ``sidechain=1`` stops
        compressing). Found by name, so any plug-in's switch is caught.
        """
        for name, info in self.controls().items():
            if not SIDECHAIN_SWITCH.fullmatch(name) or info.type == "path":
                continue
            value = self.get(name)
            if info.type == "choice":
                on = str(value).strip().lower() not in _OFF_CHOICES
            elif info.type == "bool":
                on = bool(value)
            else:
                low = info.minimum if info.minimum is not None else 0.0
                high = info.maximum if info.maximum is not None else 1.0
                on = float(value) > low + (high - low) / 2  # type: ignore[arg-type]
            if on:
                return name
        return None

    def _clone_instance(self, flush: bool = True) -> pedalboard.Plugin:
        """A new instance with the first one's state and values.

        ``flush=False``: the first instance may be running in the audio callback, so it is never run
        and only read: its raw state, then each parameter's raw value (exact, where the named values
        are rounded through display text; values set since it last ran included), and pedalboard's
        parameter wrappers are shared rather than rebuilt (building them sweeps each parameter 1,000
        times in Python, about 10 ms a parameter of the GIL the callback needs, and the callback's
        first parameter change on the new instance would otherwise do it).
        """
        twin = self._factory(self._constructor_values)
        # Before anything is set on it: pedalboard looks every attribute set up among the parameters.
        shared = not flush and not self.is_builtin and _share_wrappers(self.instance, twin)
        if not self.is_builtin:
            if flush:
                self.flush()
            try:
                # Muted: DPF's ZamAutoSat, whose state is empty, asserts "read > 0" twice on being given it.
                with muted_stderr():
                    twin.raw_state = self.instance.raw_state
            except Exception:  # noqa: BLE001 - a plug-in may refuse state; named values follow anyway
                pass
            if shared and _copy_raw_values(self.instance, twin):
                return twin
        for name in self.controls():
            if self.parameters[name].type == "path":
                continue
            value = getattr(self.instance, name)
            # Values are read through the plug-in's display text (rounded): set only
            # what the state did not carry, or the copy would drift from the original.
            if getattr(twin, name) != value:
                setattr(twin, name, value)
        return twin

    def _rebuild_instances(self) -> None:
        values = {k: v for k, v in self.values().items() if self.parameters[k].type != "path"}
        count = len(self._instances)
        self._instances = [self._factory(self._constructor_values) for _ in range(count)]
        forget_carried(self)
        for key, value in values.items():
            self.set(key, value)

    # -- processing ---------------------------------------------------------------

    def latency(self, sample_rate: float | None, block: int) -> int:
        """Samples of delay the plug-in adds when run ``block`` frames at a time.

        An external plug-in reports it. A built-in that buffers is measured, at
        this rate and block: what it holds back depends on both.
        """
        sample_rate = sample_rate or self.sample_rate or 48000.0
        if not self.is_builtin:
            return int(self.instance.reported_latency_samples)
        key = self._latency_key(sample_rate, block)
        with _LATENCY_CACHE_LOCK:
            cached = _LATENCY_CACHE.get(key)
        if cached is not None:
            return cached
        latency = self._probe_builtin_latency(sample_rate, block)  # not under the lock: another thread may probe too
        with _LATENCY_CACHE_LOCK:
            while len(_LATENCY_CACHE) >= _LATENCY_CACHE_SIZE:
                del _LATENCY_CACHE[next(iter(_LATENCY_CACHE))]
            _LATENCY_CACHE[key] = latency
        return latency

    def _latency_key(self, sample_rate: float, block: int) -> tuple:
        """What a built-in's probed latency depends on: which built-in, the values that can change it (all but
        :data:`builtins.LATENCY_NEUTRAL_PARAMETERS`), the rate, the block and the channels the probe runs."""
        neutral = builtins.LATENCY_NEUTRAL_PARAMETERS.get(self.name, frozenset())
        values = []
        for name, value in sorted(self.values().items()):
            if name in neutral:
                continue
            if self.parameters[name].type == "path":
                # A file read when the instance is built (Convolution's): the same name may hold another file.
                try:
                    stat = os.stat(str(value))
                    value = (value, stat.st_mtime_ns, stat.st_size)
                except (OSError, TypeError, ValueError):
                    pass
            values.append((name, value))
        return self.name, float(sample_rate), block, self.channels or 2, tuple(values)

    def _buffer_size(self, block: int) -> int:
        """The buffer size pedalboard cuts each call into for this plug-in: the block, or less (_MAX_CALL_FRAMES)."""
        return min(block, _MAX_CALL_FRAMES.get(self.name, block)) if self.is_builtin else block

    def _probe_builtin_latency(self, sample_rate: float, block: int) -> int:
        probe = self._factory(self._constructor_values)
        for name, value in self.values().items():
            if self.parameters[name].type not in ("path",):
                native = value
                if self.parameters[name].type == "choice":
                    native = builtins.enum_value(probe, name, str(value))
                setattr(probe, name, native)
        silence = np.zeros((self.channels or 2, block), np.float32)
        missing = 0
        settle = math.ceil(_LATENCY_PROBE_SETTLE_SECONDS * sample_rate / block)
        whole_since = None  # the call from which blocks came back whole
        for call in range(math.ceil(_LATENCY_PROBE_MAX_SECONDS * sample_rate / block)):
            # As the engine calls it: one block per call, prepared for that block, state kept.
            try:
                got = probe.process(silence, sample_rate, self._buffer_size(block), False).shape[1]
            except ValueError as err:  # MP3Compressor refuses 96 kHz: say so before the audio path runs
                raise PluginLoadError(self.name, f"{err} (the session runs at {sample_rate:g} Hz); set the "
                                                 f"session's sample rate to one it takes") from err
            missing += block - got
            if got == block and whole_since is None:
                whole_since = call
            if whole_since is not None and (not missing or call - whole_since >= settle):
                return missing
        return missing

    def processor(
        self, sample_rate: float, max_block: int, max_frames: int | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A function that runs one block through this plug-in, adapted to the configured channels.

        Plug-in state is kept between calls (``reset=False``): consecutive blocks
        sound as one continuous signal. ``max_frames``: the longest segment it is
        given (default one block), for buffers made now rather than per call.
        """
        if self.channels is None:
            self.configure(2, sample_rate)
        first = self._instances[0]
        if self.mode == "widen":
            # The mono signal on both inputs, copied into a buffer made now (a view of its first 2 n
            # samples is a contiguous (2, n) array, so the plug-in takes it without another copy).
            both = np.zeros(2 * max(max_frames or max_block, max_block), np.float32)

            def widen(block: np.ndarray) -> np.ndarray:
                n = block.shape[1]
                stereo = both[: 2 * n].reshape(2, n)
                stereo[0] = block[0]
                stereo[1] = block[0]
                return first.process(stereo, sample_rate, max_block, False)

            return widen
        if self.mode == "dual_mono":
            second = self._instances[1]

            def dual_mono(block: np.ndarray) -> np.ndarray:
                left = first.process(block[0:1], sample_rate, max_block, False)
                right = second.process(block[1:2], sample_rate, max_block, False)
                return np.concatenate((left, right))

            return dual_mono
        if self.mode == "stereo_on_mono":

            def stereo_on_mono(block: np.ndarray) -> np.ndarray:
                out = first.process(np.concatenate((block, block)), sample_rate, max_block, False)
                return (out[0:1] + out[1:2]) * np.float32(0.5)

            return stereo_on_mono

        buffer_size = self._buffer_size(max_block)

        def direct(block: np.ndarray) -> np.ndarray:
            return first.process(block, sample_rate, buffer_size, False)

        return direct

    def reset(self) -> None:
        """Clear the plug-in's audio state (tails, envelopes); parameters are kept.

        An external plug-in first processes a few frames of silence: DPF plug-ins
        take parameter changes at their next ``process()`` call, so without this a
        render's first blocks would depend on whether the plug-in ran since its
        last change (a preset restored into a fresh instance would not null).
        """
        forget_carried(self)
        if self.channels is not None:
            self.flush()
        with muted_stderr() if not self.is_builtin else contextlib.nullcontext():  # DPF's 3BandEQ: 2 warnings
            for inst in self._instances:
                inst.reset()

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, format={self.identity.format!r}, mode={self.mode!r})"


class MissingPlugin(Plugin):
    """A slot's plug-in that is not installed on this machine: kept, silent, and saved back unchanged.

    Loading a preset or session that names it still works: the slot stays in
    the chain, bypassed, holding the stored values and state so saving again
    loses nothing, and :attr:`note` tells the user what is missing.
    """

    def __init__(self, identity: PluginIdentity, values: dict[str, ParameterValue], raw_state: str | None,
                 hint: str = "", refusal: PluginProbeFailed | None = None):
        self.identity = identity
        self.parameters = {}
        self.stored_values = dict(values)
        self.stored_state = raw_state
        self._instances = []
        self.channels = None
        self.sample_rate = None
        self.mode = "direct"
        # Installed but refused: its probe crashed or hung, so loading it could take rackhost down.
        self.refusal = refusal
        if refusal is not None:
            self.note = f"{identity.name} is bypassed: {refusal}"
        else:
            self.note = f"{identity.name} is not installed, so its slot is bypassed{hint}"

    def get(self, name: str) -> ParameterValue:
        return self.stored_values[name]

    def set(self, name: str, value: object) -> ParameterValue:
        if self.refusal is not None:
            raise self.refusal
        raise PluginNotFoundError(self.name, [str(f) for f in scan_folders()])

    def values(self) -> dict[str, ParameterValue]:
        return dict(self.stored_values)

    def supports(self, channels: int, sample_rate: float = 48000.0) -> bool:
        return True

    def configure(self, channels: int, sample_rate: float, widen: bool = False) -> str | None:
        self.channels, self.sample_rate = channels, sample_rate
        return self.note

    def sidechain_switch(self) -> str | None:
        return None

    def clone(self, flush: bool = True) -> Plugin:
        return MissingPlugin(self.identity, self.stored_values, self.stored_state, "", self.refusal)

    def flush(self) -> None:
        pass

    def latency(self, sample_rate: float | None, block: int) -> int:
        return 0

    def processor(
        self, sample_rate: float, max_block: int, max_frames: int | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        return lambda block: block

    def reset(self) -> None:
        pass


# Each bundle's parameter wrappers as pedalboard built them for its first instance in this process, without
# that instance: every later instance takes copies of them rather than building its own (about 50 ms of Python for
# a zam-plugins compressor, held on the engine's control thread, which shares the GIL with the audio callback,
# each time a slot is added live). Kept for good, not with a living instance: a set of wrappers holds about 1 MB
# (each parameter's 1,000-value sweeps), and when the instance the next load copied from had gone, the next load
# built a new set and the instances copied from the old one kept it alive: a live engine's memory grew by a set
# every time that happened, up to one per instance.
_WRAPPERS: dict[str, tuple[dict[str, tuple[type, dict]], dict]] = {}
_PLUGIN_ATTRIBUTE = "_AudioProcessorParameter__plugin"


def _with_wrappers_of_a_twin(key: str, instance: pedalboard.Plugin) -> pedalboard.Plugin:
    template = _WRAPPERS.get(key)
    if template is None:
        try:
            instance.parameters  # noqa: B018 - builds its wrappers
            cache = instance.__python_parameter_cache__
            names = instance.__python_to_cpp_names__
        except (AttributeError, RuntimeError, TypeError, ValueError):
            return instance  # pedalboard's internals are not as expected: each instance builds its own
        _WRAPPERS[key] = ({name: (type(wrapper), {k: v for k, v in wrapper.__dict__.items() if k != _PLUGIN_ATTRIBUTE})
                           for name, wrapper in cache.items()}, dict(names))
        return instance
    wrappers, names = template
    shared = {}
    for name, (kind, attributes) in wrappers.items():
        copy = object.__new__(kind)
        copy.__dict__.update(attributes)  # ranges, type, python name: the same plug-in's, shared
        copy.__dict__[_PLUGIN_ATTRIBUTE] = instance
        shared[name] = copy
    instance.__python_parameter_cache__ = shared
    instance.__python_to_cpp_names__ = dict(names)
    return instance


def _share_wrappers(source: pedalboard.Plugin, target: pedalboard.Plugin) -> bool:
    """Give ``target`` (a new instance of the same plug-in) ``source``'s parameter wrappers without
    building them; False where pedalboard's internals are not as expected (they get built on first use).

    Reads pedalboard internals (the wrapper cache of ``_PythonExternalPluginMixin``); a wrapper
    looks its C++ parameter up by name on the plug-in it holds, here ``target``.
    """
    try:
        source.parameters  # noqa: B018 - builds the source's wrappers if nothing has yet
        cache = source.__python_parameter_cache__
        names = source.__python_to_cpp_names__
    except (AttributeError, RuntimeError, TypeError, ValueError):
        return False
    shared = {}
    for name, wrapper in cache.items():
        copy = object.__new__(type(wrapper))
        copy.__dict__.update(wrapper.__dict__)  # ranges, type, python name: the same plug-in's
        copy.__dict__[_PLUGIN_ATTRIBUTE] = target
        shared[name] = copy
    target.__python_parameter_cache__ = shared
    target.__python_to_cpp_names__ = dict(names)
    return True


def _copy_raw_values(source: pedalboard.Plugin, target: pedalboard.Plugin) -> bool:
    """Give ``target`` (a new instance of the same plug-in) ``source``'s raw parameter values, exactly;
    False where the two do not list the same parameters (the caller then copies named values)."""
    try:
        theirs, ours = list(source._parameters), list(target._parameters)
    except AttributeError:
        return False
    if [p.name for p in theirs] != [p.name for p in ours]:
        return False
    for their, our in zip(theirs, ours):
        if our.raw_value != their.raw_value:
            our.raw_value = their.raw_value
    return True


# Each bundle's parameters, described once per process (by its path and the time it last changed). A description
# holds every parameter's steps: 9,000-13,000 floats for a zam-plugins compressor or EQ, about 300 kB of small
# objects, made again for each instance a live engine loaded (a slot added) and interleaved with what the engine
# keeps. Shared like a clone's: nothing changes a plug-in's parameter descriptions once made.
_DESCRIBED: dict[tuple[str, int], dict[str, ParameterInfo]] = {}


def _described(path: Path, instance: pedalboard.Plugin) -> dict[str, ParameterInfo]:
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns)
    except OSError:
        return _describe_external(instance)
    described = _DESCRIBED.get(key)
    if described is None:
        described = _DESCRIBED[key] = _describe_external(instance)
    return described


def _describe_external(instance: pedalboard.Plugin) -> dict[str, ParameterInfo]:
    out: dict[str, ParameterInfo] = {}
    for name, param in instance.parameters.items():
        if is_internal_parameter(name):
            continue
        role = "output" if is_output_parameter(name) else "control"
        value = getattr(instance, name)
        if param.type is bool:
            out[name] = ParameterInfo(name, "bool", bool(value), role=role)
        elif param.type is str:
            out[name] = ParameterInfo(
                name, "choice", str(value), role=role, choices=tuple(str(v) for v in param.valid_values)
            )
        else:
            # pedalboard reports a VST3 switch or selector as a float: its steps tell (two: on/off).
            out[name] = ParameterInfo(
                name, "float", float(value), float(param.min_value), float(param.max_value), param.label or "", role,
                steps=tuple(sorted(float(v) for v in param.valid_values)),
            )
    return out
