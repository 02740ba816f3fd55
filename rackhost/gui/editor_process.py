"""A plug-in's own editor window, shown by a process of its own.

Showing an editor runs the plug-in's GUI code, and on Linux a plug-in or the
X server can end the process that shows it (an X error exits it; measured
here: every plug-in tried, under Xvfb without a window manager). So the
window that holds the session never shows one itself: this child loads a
copy of the plug-in with the slot's state, shows its editor, and prints each
parameter change as a JSON line, which the parent applies to its own slot
(and the engine) as if the user had moved the control there.

Protocol: the parent writes one JSON line ``{"name": ..., "raw_state": base64
or null, "values": {...}}``; the child answers ``{"opened": name}``, then
``{"values": {name: value}}`` lines while the editor is open, then
``{"closed": true}``. Writing ``close`` closes the editor.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from typing import Any

POLL_SECONDS = 0.1


def changed_values(plugin: Any, last: dict) -> dict:
    """The control values that differ from ``last`` (updated in place)."""
    changed = {}
    for name in plugin.controls():
        value = plugin.get(name)
        if last.get(name) != value:
            changed[name] = value
            last[name] = value
    return changed


def _say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    from rackhost.chain.plugin import Plugin

    request = json.loads(sys.stdin.readline())
    plugin = Plugin.create(request["name"])
    if request.get("raw_state"):
        plugin.instance.raw_state = base64.b64decode(request["raw_state"])
    last = dict(plugin.values())
    close = threading.Event()

    def watch() -> None:
        while not close.wait(POLL_SECONDS):
            changed = changed_values(plugin, last)
            if changed:
                _say({"values": changed})

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() == "close":
                break
        close.set()

    threading.Thread(target=watch, daemon=True).start()
    threading.Thread(target=listen, daemon=True).start()
    _say({"opened": plugin.name})
    plugin.instance.show_editor(close)  # returns when the window is closed or ``close`` is set
    close.set()
    changed = changed_values(plugin, last)
    if changed:
        _say({"values": changed})
    _say({"closed": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
