"""Presets: a chain, a track or the master, captured so it can be restored exactly.

A preset stores, for each slot, the plug-in's identity, its named control
values, and for external plug-ins their own state (``raw_state``, base64).
Restoring assigns the state first, then the named values that differ from it
(a value edited by hand in the file wins over the state; a DPF plug-in's state
read before it ran since its values were set lacks them all, which is why
capturing flushes first), then reads every value back and reports any that
did not land. Values are stored at the parameter's precision (-18.0, not the
-18.000002 the plug-in reports).
Output-only parameters (meters) are never stored or set.

A split slot (parallel branches, :mod:`rackhost.chain.split`) is stored as
``{"name", "bypass", "branches": [{"level_db", "chain": [slots...]}]}``; its
branches' slots are stored as any other (and may be splits again). A level of
``null`` is a silent branch (-inf dB, which JSON cannot hold).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Union

from rackhost import __version__
from rackhost.chain import Branch, Chain, MissingPlugin, Plugin, PluginIdentity, Slot, Split
from rackhost.chain.builtins import is_builtin
from rackhost.chain.discovery import PluginProbeFailed
from rackhost.chain.parameters import ParameterValue
from rackhost.errors import PluginNotFoundError, RackhostError, printable

# Version 2 added split slots (parallel branches); a version 1 preset has none.
FORMAT_VERSION = 2
STAGES = ("tracking", "mixing", "mastering")
PresetKind = Literal["chain", "track", "bus", "master"]

# Which Debian package provides the plug-ins a fresh install may lack.
PROVIDERS = {
    "Zam": "Debian's zam-plugins (apt install zam-plugins)",
    "ZaM": "Debian's zam-plugins (apt install zam-plugins)",
    **{name: "rackhost's set-up, which builds it from Debian's dpf-plugins source (make setup)"
       for name in ("MVerb", "3BandEQ", "Kars", "Nekobi")},
}


class PresetError(RackhostError):
    """A preset cannot be read or applied: names the preset, the place in it, and the fix."""

    def __init__(self, source: str, where: str, problem: str):
        self.source = source
        self.where = where
        self.problem = problem
        place = f" at {printable(where)}" if where else ""
        super().__init__(f"preset {source!r}{place}: {printable(problem)}")


@dataclass
class SlotState:
    plugin: dict  # identity: {"format", "name", and where known "vendor", "uid", "version"}
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    raw_state: str | None = None  # base64 of the plug-in's own state
    bypass: bool = False
    mix: float = 1.0

    def to_dict(self) -> dict:
        out: dict = {"plugin": self.plugin, "parameters": self.parameters, "bypass": self.bypass, "mix": self.mix}
        if self.raw_state is not None:
            out["raw_state"] = self.raw_state
        return out


@dataclass
class BranchState:
    slots: list[ItemState] = field(default_factory=list)
    level_db: float = 0.0

    def to_dict(self) -> dict:
        return {"level_db": self.level_db if math.isfinite(self.level_db) else None,
                "chain": [s.to_dict() for s in self.slots]}


@dataclass
class SplitState:
    """A split slot as a file keeps it: its branches' slots and levels."""

    branches: list[BranchState]
    name: str = "split"
    bypass: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "bypass": self.bypass, "branches": [b.to_dict() for b in self.branches]}


ItemState = Union[SlotState, SplitState]


def plugin_states(states: list[ItemState]) -> Iterator[SlotState]:
    """Every plug-in slot of ``states``, those inside splits included, in order."""
    for state in states:
        if isinstance(state, SplitState):
            for branch in state.branches:
                yield from plugin_states(branch.slots)
        else:
            yield state


@dataclass
class Preset:
    name: str
    stage: str
    kind: PresetKind = "chain"
    slots: list[ItemState] = field(default_factory=list)
    gain_db: float | None = None  # track and master presets
    pan: float | None = None  # track presets
    description: str = ""
    tags: list[str] = field(default_factory=list)
    author: str = ""
    created: str = ""
    modified: str = ""
    rackhost_version: str = __version__
    loudness_target_lufs: float | None = None  # mastering: integrated loudness to render to
    true_peak_ceiling_dbtp: float | None = None
    midi_mappings: list[dict] = field(default_factory=list)  # track/master presets: see rackhost.presets.preset_midi

    def to_dict(self) -> dict:
        out: dict = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "stage": self.stage,
            "kind": self.kind,
            "description": self.description,
            "tags": self.tags,
            "author": self.author,
            "created": self.created,
            "modified": self.modified,
            "rackhost_version": self.rackhost_version,
        }
        for key in ("gain_db", "pan", "loudness_target_lufs", "true_peak_ceiling_dbtp"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["slots"] = [s.to_dict() for s in self.slots]
        if self.midi_mappings:
            out["midi_mappings"] = self.midi_mappings
        return out


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# -- capture --------------------------------------------------------------------------


def capture_slot(slot: Slot) -> SlotState:
    plugin = slot.plugin
    if isinstance(plugin, MissingPlugin):  # saved back exactly as it was loaded
        return SlotState(plugin.identity.to_dict(), plugin.values(), plugin.stored_state, slot.bypass, slot.mix)
    identity = {k: v for k, v in plugin.identity.to_dict().items() if k != "path"}
    raw_state = None
    if not plugin.is_builtin:
        plugin.flush()
        raw_state = base64.b64encode(plugin.instance.raw_state).decode("ascii")
    return SlotState(identity, stored_values(plugin), raw_state, slot.bypass, slot.mix)


def stored_values(plugin: Plugin) -> dict[str, ParameterValue]:
    """The control values as a file keeps them: at the parameter's precision (-18.0, not -18.000002)."""
    return {name: plugin.parameters[name].rounded(value) for name, value in plugin.values().items()}


def capture_chain(chain: Chain) -> list[ItemState]:
    return [capture_split(item) if isinstance(item, Split) else capture_slot(item) for item in chain]


def capture_split(split: Split) -> SplitState:
    return SplitState([BranchState(capture_chain(b.chain), b.level_db) for b in split.branches], split.name,
                      split.bypass)


# -- restore --------------------------------------------------------------------------


@dataclass
class RestoreReport:
    """What a restore could not do exactly, for the user."""

    mismatches: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # plug-ins not installed: their slots are bypassed
    # Plug-ins installed but refused because their probe crashed or hung: also bypassed, and listed in ``missing``.
    refused: list[PluginProbeFailed] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.mismatches and not self.missing

    def warnings(self) -> list[str]:
        return self.missing + self.mismatches


def restore_slot(
    state: SlotState, source: str, where: str, report: RestoreReport, *, allow_untrusted: bool = False
) -> Slot:
    """A fresh plug-in set as ``state`` says, found by name in the scanned folders.

    A ``path`` in the identity is never followed on its own (loading a plug-in
    runs its code): only with ``allow_untrusted``, when no plug-in of that name
    is in the scanned folders.
    """
    identity = state.plugin
    name = identity.get("name")
    if not isinstance(name, str) or not name:
        raise PresetError(source, f"{where}.plugin.name", "missing plug-in name")
    path = identity.get("path") if isinstance(identity.get("path"), str) else None
    try:
        if identity.get("format") == "builtin":
            plugin = Plugin.builtin(name, **_constructor_values(state))
        else:
            try:
                plugin = Plugin.create(name)
            except PluginNotFoundError:
                if not (path and allow_untrusted):
                    raise
                plugin = Plugin.create(path, allow_untrusted=True)
    except PluginProbeFailed as refusal:
        # Kept like a plug-in that is not installed, with the probe's reason: the rest still loads.
        missing = MissingPlugin(_identity(identity), state.parameters, state.raw_state, refusal=refusal)
        report.missing.append(f"{where}: {missing.note}")
        report.refused.append(refusal)
        return Slot(missing, bypass=True, mix=min(max(state.mix, 0.0), 1.0))
    except PluginNotFoundError as missing_error:
        if identity.get("format", "vst3") == "builtin" or is_builtin(name):
            raise PresetError(source, f"{where}.plugin", f"{name!r} is not a pedalboard built-in") from None
        # A plug-in this machine lacks does not fail the whole load: the slot is kept, bypassed.
        provider = next((pkg for prefix, pkg in PROVIDERS.items() if name.startswith(prefix)), None)
        if missing_error.close:  # installed ones of a near name: a misspelling is likelier than a missing package
            hint = (f"; did you mean {', '.join(missing_error.close)}? Correct the name in the file, or install "
                    f"{name}")
        else:
            hint = f"; it is provided by {provider}" if provider else "; install it, then load this again"
        if path:
            hint += (f" (the file names {path!r}, outside the scanned folders: not loaded, since loading a "
                     f"plug-in runs its code; 'rackhost scan --add-path' its folder, or allow it explicitly)")
        missing = MissingPlugin(_identity(identity), state.parameters, state.raw_state, hint)
        report.missing.append(f"{where}: {missing.note}")
        return Slot(missing, bypass=True, mix=min(max(state.mix, 0.0), 1.0))
    except RackhostError as err:
        raise PresetError(source, f"{where}.plugin", str(err)) from None
    if state.raw_state is not None:
        if plugin.is_builtin:
            raise PresetError(source, f"{where}.raw_state", f"built-in {name} has no plug-in state; remove raw_state")
        try:
            plugin.instance.raw_state = base64.b64decode(state.raw_state, validate=True)
        except (binascii.Error, ValueError) as err:
            raise PresetError(source, f"{where}.raw_state", f"not valid base64 ({err})") from None
        except RuntimeError as err:
            raise PresetError(source, f"{where}.raw_state", f"{name} rejected the state ({err})") from None
    for pname, value in state.parameters.items():
        if plugin.is_builtin and plugin.parameters.get(pname) and plugin.parameters[pname].type == "path":
            continue  # set at construction
        if (state.raw_state is not None and pname in plugin.parameters
                and plugin.parameters[pname].rounded(plugin.get(pname)) == value):
            # The state already holds it, at full precision; setting it again from the
            # stored value (kept at the parameter's precision, so rounded) would
            # nudge it. Only values the state did not restore are set by name.
            continue
        try:
            plugin.set(pname, value)
        except RackhostError as err:
            raise PresetError(source, f"{where}.parameters.{pname}", str(err)) from None
    _verify(plugin, state.parameters, f"{where} ({name})", report)
    try:
        return Slot(plugin, bypass=state.bypass, mix=state.mix)
    except ValueError as err:
        raise PresetError(source, f"{where}.mix", str(err)) from None


def restore_chain(
    preset: Preset, source: str | None = None, *, allow_untrusted: bool = False
) -> tuple[Chain, RestoreReport]:
    """Fresh plug-ins in a new chain, set as the preset says; the report lists values that did not land."""
    report = RestoreReport()
    label = source or preset.name

    def restore(state: SlotState, source: str, where: str, report: RestoreReport) -> Slot:
        return restore_slot(state, source, where, report, allow_untrusted=allow_untrusted)

    return Chain(restore_items(preset.slots, label, "slots", report, restore)), report


Restore = Callable[[SlotState, str, str, RestoreReport], Slot]


def restore_items(states: list[ItemState], source: str, where: str, report: RestoreReport,
                  restore: Restore) -> list[Slot | Split]:
    """The slots and splits ``states`` describe; ``restore`` makes each plug-in slot (a session's
    engine reuses the instances it runs). ``where`` is the list's place in the file, for errors."""
    items: list[Slot | Split] = []
    for i, state in enumerate(states):
        here = f"{where}[{i}]"
        if isinstance(state, SplitState):
            branches = []
            for k, branch in enumerate(state.branches):
                at = f"{here}.branches[{k}]"
                chain = Chain(restore_items(branch.slots, source, f"{at}.chain", report, restore))
                try:
                    branches.append(Branch(chain, branch.level_db))
                except ValueError as err:
                    raise PresetError(source, f"{at}.level_db", str(err)) from None
            try:
                items.append(Split(branches, state.name, state.bypass))
            except ValueError as err:
                raise PresetError(source, f"{here}.branches", str(err)) from None
        else:
            items.append(restore(state, source, here, report))
    return items


def _identity(doc: dict) -> PluginIdentity:
    fields = {k: str(doc[k]) for k in ("vendor", "uid", "version") if isinstance(doc.get(k), (str, int, float))}
    fmt = doc.get("format") if doc.get("format") in ("vst3", "au") else "vst3"
    return PluginIdentity(fmt, str(doc["name"]), **fields)


def _constructor_values(state: SlotState) -> dict:
    # Convolution's impulse response is given when it is made, not set afterwards.
    return {k: v for k, v in state.parameters.items() if k == "impulse_response_filename"}


def _verify(plugin: Plugin, wanted: dict[str, ParameterValue], where: str, report: RestoreReport) -> None:
    for pname, value in wanted.items():
        info = plugin.parameters[pname]
        got = plugin.get(pname)
        if info.type == "float" and isinstance(value, (int, float)):
            span = (info.maximum or 0.0) - (info.minimum or 0.0)
            # Plug-ins quantize to their own steps; a thousandth of the range is "landed".
            if math.isclose(float(got), float(value), abs_tol=max(1e-6, 1e-3 * abs(span))):
                continue
        elif got == value or str(got).lower() == str(value).lower():
            continue
        report.mismatches.append(f"{where}.{pname}: wanted {value!r}, plug-in has {got!r}")
