"""``rackhost devices``: list host APIs and audio devices, defaults marked.

Hooked into the main parser by :func:`add_parser`. Errors are :class:`RackhostError`
subclasses, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import TextIO


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``devices`` on the main parser's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "devices",
        help="list audio host APIs and devices (defaults marked)",
        description="List the audio host APIs and devices PortAudio offers; the defaults are what a live "
                    "session opens unless told otherwise. Start the audio server (e.g. jackd) first.",
    )
    parser.add_argument("--json", action="store_true", help="print host APIs and devices as JSON")
    parser.set_defaults(func=cmd_devices)
    return parser


def cmd_devices(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from rackhost.live.devices import list_hostapis

    out = out or sys.stdout
    hostapis = list_hostapis()
    devices = require_audio_devices()
    if args.json:
        default_in = next((d.index for d in devices if d.is_default_input), None)
        default_out = next((d.index for d in devices if d.is_default_output), None)
        json.dump({"hostapis": [asdict(a) for a in hostapis], "devices": [asdict(d) for d in devices],
                   "default_input_device": default_in, "default_output_device": default_out}, out, indent=2)
        out.write("\n")
        return 0
    out.write("Host APIs:\n")
    for api in hostapis:
        count = len(api.devices)
        out.write(f"  {api.index}  {api.name}  ({count} device{'s' if count != 1 else ''})"
                  f"{'  [default]' if api.is_default else ''}\n")
    out.write("Devices (> default input, < default output):\n")
    width = max(len(d.name) for d in devices)
    for d in devices:
        mark = (">" if d.is_default_input else " ") + ("<" if d.is_default_output else " ")
        out.write(f"{mark} {d.index:>3}  {d.name:<{width}}  {d.hostapi}  "
                  f"{d.max_input_channels} in / {d.max_output_channels} out  {d.default_samplerate:g} Hz\n")
    return 0


def require_audio_devices() -> list:
    """Every audio device, or the one "no audio device found" error (for ``devices`` and ``live`` alike)."""
    from rackhost.live.devices import NO_DEVICE_HINT, AudioDeviceError, list_devices

    devices = list_devices()
    if not devices:
        raise AudioDeviceError(NO_DEVICE_HINT)
    return devices
