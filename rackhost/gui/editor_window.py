"""A slot's own editor, shown by a child process (:mod:`rackhost.gui.editor_process`).

The window never shows a plug-in's editor itself: showing one can end the
process that does. What the user turns in the editor comes back as parameter
values, applied to the slot through the undoable editor and sent to the
engine, as if the control had been moved in the parameter panel.
"""

from __future__ import annotations

import base64
import collections
import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from rackhost.chain.chain import SlotPath, path_of
from rackhost.live.commands import BusRow

if TYPE_CHECKING:
    from rackhost.chain.chain import Slot
    from rackhost.gui.host import EditorHost


class EditorWindow:
    def __init__(self, app: EditorHost, slot: Slot):
        self.app = app
        self.slot = slot
        self.name = slot.name
        self.messages: collections.deque[dict] = collections.deque()
        self.closed_cleanly = False
        plugin = slot.plugin
        plugin.flush()
        request = {"name": plugin.name, "raw_state": base64.b64encode(plugin.instance.raw_state).decode("ascii")}
        self.process = subprocess.Popen([sys.executable, "-m", "rackhost.gui.editor_process"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        threading.Thread(target=self._read, name="rackhost-editor-reader", daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            try:
                self.messages.append(json.loads(line))
            except ValueError:
                continue  # a plug-in printing to stdout: not ours

    @property
    def running(self) -> bool:
        return self.process.poll() is None or bool(self.messages)

    def poll(self) -> bool:
        """Apply what the editor changed (on the GUI thread); False once it is closed and reported."""
        while self.messages:
            message = self.messages.popleft()
            if "values" in message:
                self._apply(message["values"])
            elif message.get("closed"):
                self.closed_cleanly = True
        if self.process.poll() is None:
            return True
        if not self.closed_cleanly:
            lines = [line.strip() for line in (self.process.stderr.read() if self.process.stderr else "").splitlines()]
            errors = [line for line in lines if "error" in line.lower()] or [line for line in lines if line]
            why = errors[0] if errors else f"exit status {self.process.returncode}"
            self.app.tell(f"{self.name}'s editor window closed unexpectedly ({why}); the session is unharmed",
                          error=True)
        return False

    def _apply(self, values: dict[str, Any]) -> None:
        where = self._where()
        if where is None:
            return  # the slot was removed while its editor was open
        track, index = where
        for name, value in values.items():
            self.app.set_parameter(track, index, name, value)
        self.app.session.history.seal()
        self.app.refresh_views()

    def _where(self) -> tuple[int | BusRow | None, SlotPath] | None:
        """Where the slot is now (inside a split's branch too); None if it was removed."""
        session = self.app.session
        busses = [(BusRow(j), bus) for j, bus in enumerate(session.busses)]
        for track, owner in [*enumerate(session.tracks), *busses, (None, session.master)]:
            path = path_of(owner.chain, self.slot)
            if path is not None:
                return track, path
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("close\n")  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
