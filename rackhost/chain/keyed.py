"""Keyed inserts: a plug-in whose detector hears a key signal (a sidechain) from elsewhere.

pedalboard feeds a plug-in its main input only. minihost (optional: ``pip install
'rackhost[sidechain]'``) feeds a key two ways, measured by bench/sidechain_backends.py:

- an LV2 plug-in with a port marked ``lv2:isSideChain``: JUCE's LV2 host shows every audio
  input port as one bus, so the key goes in as one more input channel;
- a VST3 with a sidechain input bus, through ``process_sidechain``. Debian's zam-plugins
  VST3s (/usr/lib/vst3) read a silent key there: Debian builds them with DPF 1.6, whose VST3
  wrapper reads the first input bus only. ``make plugins`` rebuilds ZamCompX2 and ZamGateX2
  with that fixed into build/vst3-keyed (scripts/build-keyed-vst3.sh), and a path to one
  of Debian's builds is served by its LV2 twin.

The routing work (busses, sends) decides where a key comes from; this module only turns
``(main, key)`` blocks into output blocks, carrying the plug-in's state from block to block.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rackhost.chain.plugin import SIDECHAIN_SWITCH
from rackhost.chain.teardown import muted_stderr
from rackhost.errors import ChannelLayoutError, ParameterValueError, RackhostError, UnknownParameterError


class KeyedPluginError(RackhostError):
    """A keyed insert cannot be made: no host library, no such plug-in, or a plug-in with no key input."""


@dataclass(frozen=True)
class KeyPorts:
    """Where the main and key channels sit among the inputs the host shows, in the plug-in's port order."""

    main: tuple[int, ...]
    key: tuple[int, ...]
    outputs: int

    @property
    def inputs(self) -> int:
        return len(self.main) + len(self.key)


def lv2_folders() -> list[Path]:
    """LV2's search path: $LV2_PATH if set, else the per-user and system folders, in that order."""
    if os.environ.get("LV2_PATH"):
        return [Path(p) for p in os.environ["LV2_PATH"].split(os.pathsep) if p]
    return [Path.home() / ".lv2", Path("/usr/local/lib/lv2"), Path("/usr/lib/lv2")]


_PORT = re.compile(r"\[([^\[\]]*?lv2:AudioPort[^\[\]]*?)\]", re.DOTALL)
_INDEX = re.compile(r"lv2:index\s+(\d+)")


def lv2_key_ports(bundle: Path) -> KeyPorts:
    """Read a bundle's Turtle for its audio ports; the key is every input port marked ``lv2:isSideChain``."""
    inputs: list[tuple[int, bool]] = []
    outputs = 0
    for ttl in sorted(bundle.glob("*.ttl")):
        for block in _PORT.findall(ttl.read_text(errors="replace")):
            index = _INDEX.search(block)
            if index is None:
                continue
            if "lv2:InputPort" in block:
                inputs.append((int(index.group(1)), "lv2:isSideChain" in block))
            elif "lv2:OutputPort" in block:
                outputs += 1
    inputs.sort()
    main = tuple(i for i, (_, side) in enumerate(inputs) if not side)
    key = tuple(i for i, (_, side) in enumerate(inputs) if side)
    return KeyPorts(main, key, outputs)


# Where `make plugins` puts VST3s whose sidechain bus is known to hear a key (not build/vst3:
# every other lookup of ZamCompX2 must still find Debian's build).
KEYED_VST3_FOLDER = Path(__file__).resolve().parents[2] / "build" / "vst3-keyed"
KEYED_VST3_VARIABLE = "RACKHOST_KEYED_VST3_PATH"


def keyed_vst3_folders() -> list[Path]:
    """$RACKHOST_KEYED_VST3_PATH, then the project's build/vst3-keyed."""
    extra = [Path(p) for p in os.environ.get(KEYED_VST3_VARIABLE, "").split(os.pathsep) if p]
    return [*extra, KEYED_VST3_FOLDER]


def keyed_plugins(lv2: list[Path] | None = None, vst3: list[Path] | None = None) -> dict[str, Path]:
    """Every plug-in known to take a key, by name (``ZamCompX2``): the VST3s built for it, then LV2
    bundles with an ``lv2:isSideChain`` port; an earlier folder wins a name."""
    found: dict[str, Path] = {}
    for folder in vst3 if vst3 is not None else keyed_vst3_folders():
        for bundle in sorted(folder.glob("*.vst3")) if folder.is_dir() else []:
            found.setdefault(bundle.stem, bundle)
    for folder in lv2 if lv2 is not None else lv2_folders():
        for bundle in sorted(folder.glob("*.lv2")) if folder.is_dir() else []:
            if bundle.stem not in found and lv2_key_ports(bundle).key:
                found[bundle.stem] = bundle
    return found


def find_keyed_plugin(name_or_path: str | Path, lv2: list[Path] | None = None,
                      vst3: list[Path] | None = None) -> Path:
    """The bundle for a name (``ZamCompX2``) or a path; a VST3 path outside the keyed folders is
    served by its LV2 twin where there is one (Debian's zam-plugins VST3s read a silent key)."""
    path = Path(name_or_path)
    if path.suffix == ".lv2" and path.is_dir():
        return path
    keyed_folders = [f.resolve() for f in (vst3 if vst3 is not None else keyed_vst3_folders())]
    if path.suffix == ".vst3" and path.is_dir():
        if path.resolve().parent in keyed_folders:
            return path
        # An untried VST3 is fed through its sidechain bus, unless an LV2 twin is known to hear a key.
        return keyed_plugins(lv2, vst3=[]).get(path.stem, path)
    known = keyed_plugins(lv2, vst3)
    bundle = known.get(path.stem if path.suffix in (".lv2", ".vst3") else str(name_or_path))
    if bundle is not None:
        return bundle
    searched = [*(lv2 if lv2 is not None else lv2_folders()), *keyed_folders]
    raise KeyedPluginError(
        f"no plug-in with a key input is named {path.stem!r}; found: {', '.join(sorted(known)) or 'none'} "
        f"(searched {', '.join(str(f) for f in searched)}; give a .vst3 or .lv2 path, set LV2_PATH or "
        f"{KEYED_VST3_VARIABLE} to search elsewhere, or run 'make plugins' to build the keyed VST3s)")


def _key_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


class KeyedPlugin:
    """A plug-in insert whose detector hears ``key``: ``process(main, key)`` block after block.

    Arrays are ``(channels, frames)`` float32, as everywhere in rackhost. Successive calls
    continue one stream (pedalboard's ``reset=False``): a compressor's envelope carries over, so
    any split of a signal into blocks gives the same output. ``reset()`` starts a new stream.

    A mono main into a stereo plug-in goes into both of its channels and comes back as the mean
    of its outputs; a stereo key into a mono key input is summed to mono (their mean).
    """

    def __init__(self, plugin: str | Path, sample_rate: float, max_block: int = 512,
                 parameters: Mapping[str, Any] | None = None, key_on: bool = True,
                 lv2: list[Path] | None = None, vst3: list[Path] | None = None):
        if max_block < 1:
            raise ValueError(f"max_block {max_block!r} must be at least 1 frame")
        self.path = find_keyed_plugin(plugin, lv2, vst3)
        self.name = self.path.stem
        self.format = "lv2" if self.path.suffix == ".lv2" else "vst3"
        try:
            import minihost
        except ImportError as err:
            raise KeyedPluginError(
                "keyed inserts need minihost, which is not installed: pip install 'rackhost[sidechain]'") from err
        self._minihost = minihost
        self.sample_rate = float(sample_rate)
        self.max_block = int(max_block)
        self._values: dict[int, float] = {}  # normalised values set so far, for reset() to restore
        if self.format == "lv2":
            self.ports = lv2_key_ports(self.path)
            if not self.ports.key:
                raise KeyedPluginError(f"{self.name} has no key input (no lv2:isSideChain port in {self.path}); "
                                       f"choose one of {', '.join(sorted(keyed_plugins(lv2, vst3))) or 'none'}")
            self._plugin = self._load()
            if self._plugin.num_input_channels != self.ports.inputs:
                raise KeyedPluginError(
                    f"{self.name}: the host shows {self._plugin.num_input_channels} input channels, its Turtle "
                    f"lists {self.ports.inputs} audio inputs, so where the key goes is unknown; report this plug-in")
        else:
            self.ports = KeyPorts((0, 1), (2, 3), 2)  # asked for; the plug-in's buses say what it has
            self._plugin = self._load()
            main = int(self._plugin.get_bus_info(True, 0)["num_channels"]) if self._plugin.num_input_buses else 0
            key = int(self._plugin.sidechain_channels)
            if not key or not main:
                raise KeyedPluginError(
                    f"{self.name} has no sidechain input bus ({self.path}), so nothing can feed it a key; "
                    f"choose one of {', '.join(sorted(keyed_plugins(lv2, vst3))) or 'none'}")
            self.ports = KeyPorts(tuple(range(main)), tuple(range(main, main + key)),
                                  int(self._plugin.num_output_channels))
            if main != 2 or key != 2:
                self._plugin = self._load()
        self._index = {_key_name(self._plugin.get_param_info(i)["name"]): i for i in range(self._plugin.num_params)}
        # Preallocated so a block allocates no audio memory; a view of the front of a flat buffer
        # is C-contiguous at any frame count, which minihost requires.
        self._in = np.zeros(self.ports.inputs * self.max_block, np.float32)
        self._out = np.zeros(self.ports.outputs * self.max_block, np.float32)
        switch = next((n for n in self._index if SIDECHAIN_SWITCH.fullmatch(n)), None)
        if switch is not None:
            self.set_parameter(switch, 1.0 if key_on else 0.0)
        for name, value in (parameters or {}).items():
            self.set_parameter(name, value)

    def _load(self) -> Any:
        main, key = len(self.ports.main), len(self.ports.key)
        try:
            if self.format == "lv2":
                return self._minihost.Plugin(str(self.path), self.sample_rate, self.max_block,
                                             main + key, self.ports.outputs, 0)
            return self._minihost.Plugin(str(self.path), self.sample_rate, self.max_block,
                                         main, self.ports.outputs, key)
        except Exception as err:
            raise KeyedPluginError(f"could not load {self.name} from {self.path}: {err}") from err

    def __del__(self) -> None:
        # DPF prints two lines as JUCE releases the plug-in; muted from the main thread only (never around
        # an audio callback, whose thread may drop the last reference to an old snapshot).
        plugin = self.__dict__.pop("_plugin", None)
        # At interpreter exit the builtins muting needs may already be gone: then release it unmuted.
        if plugin is not None and not sys.is_finalizing() and threading.current_thread() is threading.main_thread():
            with muted_stderr():
                del plugin

    @property
    def main_channels(self) -> int:
        return len(self.ports.main)

    @property
    def key_channels(self) -> int:
        return len(self.ports.key)

    @property
    def latency(self) -> int:
        """Frames the output lags the main input; the routing work delays the other paths by as much."""
        return int(self._plugin.latency_samples)

    @property
    def parameter_names(self) -> list[str]:
        return sorted(self._index)

    def _param(self, name: str) -> int:
        key = _key_name(name)
        # pedalboard names ZamCompX2's VST3 parameters with their unit (threshold_db); its LV2 build does not.
        index = self._index.get(key, self._index.get(re.sub(r"_(db|ms|hz)$", "", key)))
        if index is None:
            raise UnknownParameterError(self.name, name, self.parameter_names)
        return index

    def set_parameter(self, name: str, value: float | bool | str) -> None:
        """Set by the plug-in's own units (``threshold=-30`` dB); refused if the plug-in would clamp it."""
        index = self._param(name)
        text = str(float(value)) if isinstance(value, (bool, int, float)) else str(value)
        before = self._plugin.get_param(index)
        self._plugin.set_param(index, self._plugin.param_from_text(index, text))
        got = self._plugin.param_to_text(index, self._plugin.get_param(index))
        try:
            clamped = abs(float(got) - float(text)) > 1e-3 * max(1.0, abs(float(text)))
        except ValueError:
            clamped = False  # a choice given by its label: the plug-in's own text is the judge
        if not clamped:
            self._values[index] = self._plugin.get_param(index)
        else:
            self._plugin.set_param(index, before)
            low = self._plugin.param_to_text(index, 0.0)
            high = self._plugin.param_to_text(index, 1.0)
            raise ParameterValueError(self.name, _key_name(name), value,
                                      f"out of range [{low}, {high}] (the plug-in set {got})")

    def parameter(self, name: str) -> float | str:
        """A parameter's value in the plug-in's units; a VST3's output parameters (``gain_reduction``)
        too, which JUCE's LV2 host does not show."""
        text = self._plugin.param_to_text(self._param(name), self._plugin.get_param(self._param(name)))
        try:
            return float(text)
        except ValueError:
            return text

    def reset(self) -> None:
        """Forget the stream so far (envelopes, tails): the next block starts a new one.

        minihost's own ``reset()`` leaves an LV2 plug-in's envelope as it was (measured with
        ZamCompX2), so the plug-in is loaded afresh with the same settings: not for the audio thread.
        """
        self._plugin = self._load()
        for index, value in self._values.items():
            self._plugin.set_param(index, value)

    def process(self, main: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Process ``main`` (channels, n) with its detector on ``key`` (channels, n); any n, any channels 1-2."""
        main = np.asarray(main, np.float32)
        key = np.asarray(key, np.float32)
        if main.ndim != 2 or key.ndim != 2:
            raise ValueError(f"main {main.shape} and key {key.shape} must both be (channels, frames)")
        if main.shape[1] != key.shape[1]:
            raise ValueError(f"main has {main.shape[1]} frames but key has {key.shape[1]}: give them the same length")
        if main.shape[0] > self.main_channels:
            wider = [n for n, b in keyed_plugins().items()  # the keyed VST3s built here are stereo
                     if b.suffix == ".vst3" or len(lv2_key_ports(b).main) >= main.shape[0]]
            raise ChannelLayoutError(
                f"{self.name} takes {self.main_channels} main channel(s), not {main.shape[0]}: give it a mono "
                f"signal or use a plug-in that takes {main.shape[0]} ({', '.join(wider) or 'none found'})")
        if main.shape[0] < 1 or key.shape[0] < 1:
            raise ValueError(f"main {main.shape} and key {key.shape} need at least one channel each")
        frames = main.shape[1]
        outs = main.shape[0]
        result = np.empty((outs, frames), np.float32)
        for start in range(0, frames, self.max_block):
            n = min(self.max_block, frames - start)
            result[:, start:start + n] = self._block(main[:, start:start + n], key[:, start:start + n], outs)
        return result

    def process_block(self, main: np.ndarray, key: np.ndarray) -> np.ndarray:
        """One block for the audio thread: ``main`` (channels, n) float32 as wide as the plug-in's main input,
        ``key`` (channels, n), n at most ``max_block``. Nothing is checked or allocated: the result is a
        view of the plug-in's own output buffer, good until the next call."""
        return self._block(main, key, main.shape[0])

    def _block(self, main: np.ndarray, key: np.ndarray, outs: int) -> np.ndarray:
        n = main.shape[1]
        inputs = self._in[:self.ports.inputs * n].reshape(self.ports.inputs, n)
        for i, port in enumerate(self.ports.main):
            inputs[port] = main[min(i, main.shape[0] - 1)]
        if key.shape[0] > self.key_channels:  # more key than the detector takes: their mean
            # Summed into the first key row in place: key.mean() made a new array and an iterator every block,
            # on the audio thread (a stereo bus keying a mono detector: the routed session's ducker).
            first = inputs[self.ports.key[0]]
            np.add(key[0], key[1], out=first)
            for row in key[2:]:
                np.add(first, row, out=first)
            np.multiply(first, np.float32(1.0 / key.shape[0]), out=first)
            for port in self.ports.key[1:]:
                inputs[port] = first
        else:
            for i, port in enumerate(self.ports.key):
                inputs[port] = key[min(i, key.shape[0] - 1)]
        output = self._out[:self.ports.outputs * n].reshape(self.ports.outputs, n)
        if self.format == "lv2":
            self._plugin.process(inputs, output)
        else:  # the main and key rows of a C-contiguous array are C-contiguous themselves
            main_rows = len(self.ports.main)
            self._plugin.process_sidechain(inputs[:main_rows], output, inputs[main_rows:])
        if outs < self.ports.outputs:
            return output.mean(axis=0, keepdims=True) if outs == 1 else output[:outs]
        return output
