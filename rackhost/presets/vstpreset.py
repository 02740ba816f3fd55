"""Steinberg .vstpreset files: a VST3 slot's state in the format every VST3 host reads."""

from __future__ import annotations

from pathlib import Path

from rackhost.atomic import replacing
from rackhost.chain import MissingPlugin, Plugin, Slot
from rackhost.presets.preset import PresetError

MAGIC = b"VST3"


def _vst3(target: Slot | Plugin, path: Path) -> Plugin:
    plugin = target.plugin if isinstance(target, Slot) else target
    if isinstance(plugin, MissingPlugin) or plugin.identity.format != "vst3":
        raise PresetError(str(path), "", f"{plugin.name} is not a loaded VST3 plug-in; .vstpreset files hold VST3 state")
    return plugin


def export_vstpreset(target: Slot | Plugin, path: str | Path) -> Path:
    """Write the slot's current state as a .vstpreset (atomically)."""
    path = Path(path)
    plugin = _vst3(target, path)
    plugin.flush()  # values set since the plug-in last ran are in its state only after it runs
    data = plugin.instance.preset_data
    try:
        with replacing(path) as tmp:
            tmp.write_bytes(data)
    except OSError as err:
        raise PresetError(str(path), "", f"could not be written ({err.strerror or err})") from None
    return path


def import_vstpreset(target: Slot | Plugin, path: str | Path) -> None:
    """Load a .vstpreset into the slot's plug-in (every instance, for dual mono)."""
    path = Path(path)
    plugin = _vst3(target, path)
    try:
        head = path.read_bytes()[:4]
    except OSError as err:
        raise PresetError(str(path), "", f"cannot be read ({err.strerror or err})") from None
    if head != MAGIC:
        raise PresetError(str(path), "", "not a .vstpreset file (it does not start with 'VST3')")
    for inst in plugin.instances:
        try:
            inst.load_preset(str(path))
        except (RuntimeError, ValueError) as err:
            raise PresetError(str(path), "", f"{plugin.name} rejected it ({err}); is it a preset for this plug-in?") from None
