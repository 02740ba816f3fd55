"""The child-process side of a scan: load one plug-in bundle and describe it as JSON.

Run as ``python -m rackhost.chain.discovery.probe PATH``. Loading a plug-in runs
its code, and a broken one can segfault, abort or hang the process that loads
it, so the scanner runs this in a child and treats any death as "failed".

Output protocol (stdout, one line each, the only things written there):

* ``loading`` as soon as Python is up, just before the plug-in's code runs; the
  parent starts the plug-in's time limit at this line, so a slow interpreter
  start on a busy machine is not blamed on the plug-in;
* then one JSON object: ``{"ok": true, "plugin": {...}}`` or
  ``{"ok": false, "error": "..."}`` for a clean refusal (not a plug-in, wrong
  architecture...).

Anything the plug-in itself prints to stdout is redirected to stderr so it
cannot corrupt the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time

from rackhost.chain.discovery.protocol import PROTOCOL_LOADING
from rackhost.chain.plugin import Plugin  # skips DPF instruments' 2,080 MIDI CC proxy parameters

PROBE_SAMPLE_RATE = 48000.0
PROBE_BLOCK = 512  # a bundle reports its latency whatever the block (only a built-in's is measured per block)


def describe(path: str) -> dict:
    """Everything the scan records about one bundle, using the engine's own description of a plug-in."""
    started = time.perf_counter()
    plugin = Plugin.load_unguarded(path)  # this process is the probe: it is allowed to crash
    load_seconds = time.perf_counter() - started
    # An instrument's layout is what it can render out (Plugin.supports knows the difference).
    layouts = [label for channels, label in _LAYOUTS if plugin.supports(channels, PROBE_SAMPLE_RATE)]
    identity = plugin.identity
    return {
        "name": identity.name,
        "vendor": identity.vendor,
        "format": identity.format,
        "version": identity.version,
        "uid": identity.uid,
        "kind": "instrument" if plugin.is_instrument else "effect",
        "layouts": layouts,
        "latency_samples": plugin.latency(PROBE_SAMPLE_RATE, PROBE_BLOCK),
        "load_seconds": round(load_seconds, 4),
        "parameters": [info.to_dict() for info in plugin.parameters.values()],
    }


_LAYOUTS = ((1, "mono"), (2, "stereo"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m rackhost.chain.discovery.probe PATH", file=sys.stderr)
        return 2
    # Keep the real stdout for the protocol and point fd 1 at stderr, so C++
    # code printing to stdout cannot interleave with the JSON.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    protocol.write(PROTOCOL_LOADING + "\n")
    from rackhost.errors import RackhostError

    try:
        answer = {"ok": True, "plugin": describe(argv[0])}
    except RackhostError as err:
        answer = {"ok": False, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - a process boundary: any Python error is a clean "failed"
        answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    protocol.write(json.dumps(answer) + "\n")
    protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
