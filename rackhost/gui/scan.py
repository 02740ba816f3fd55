"""Scanning for plug-ins from the window: one scan at a time, on a worker, each plug-in probed in a child process.

The frame loop asks :meth:`PluginScan.poll` once a frame for the spinner's
text; when the scan ends it says what was found and calls ``finished`` (the
window then refreshes an open plug-in browser).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rackhost.errors import RackhostError
from rackhost.gui.background import Task

Tell = Callable[..., None]  # tell(message, error=False): the window's status line


class PluginScan:
    def __init__(self, tell: Tell, finished: Callable[[], None]):
        self.tell = tell
        self.finished = finished
        self.task: Task | None = None  # the scan running now, until the frame loop has reported it

    def start(self, folders: list[Path] | None = None) -> None:
        """Scan ``folders`` (None: every plug-in folder); a second scan while one runs is ignored."""
        from rackhost.chain.discovery import scan

        if self.task is not None and not self.task.done:
            return

        def work(task: Task) -> Any:
            return scan(folders, progress=lambda done, total, record: task.progress(
                done, total, f"scanning plug-ins {done}/{total}: {record.name}"))

        self.task = Task(work, name="rackhost-scan")
        self.tell("scanning plug-ins (each in its own process)...")

    def add_folder(self, folder: str | Path) -> None:
        """Trust and scan a folder of the user's own (as 'rackhost scan --add-path' does)."""
        from rackhost.chain.discovery import add_folder

        try:
            added = add_folder(folder)
        except (RackhostError, OSError) as err:
            self.tell(str(err), error=True)
            return
        self.start([added])
        self.tell(f"added {added} to the plug-in folders; scanning it")

    def poll(self) -> str | None:
        """Once a frame: what the scan is doing (None: no scan); a finished scan is reported here."""
        task = self.task
        if task is None:
            return None
        busy = task.message or "scanning plug-ins..."
        if task.done:
            self._report(task)
        return busy

    def _report(self, task: Task) -> None:
        self.task = None
        if task.error is not None:
            self.tell(f"the scan failed: {task.error}", error=True)
            return
        summary = task.result
        self.tell(f"scan: {summary.found} plug-ins, {len(summary.new)} new, {len(summary.changed)} changed, "
                  f"{len(summary.failed)} failed, {summary.seconds:.1f} s", error=bool(summary.failed))
        self.finished()
