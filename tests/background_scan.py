"""A scan of every zam-plugin (ZamVerb's probe takes ~90 s of CPU) started the moment pytest knows a test needs it.

The scan is the real thing: ``rackhost scan --json`` in a process of its own,
probing each bundle in its own child, into a private cache and config folder.
Started when collection ends (see ``pytest_collection_finish`` in conftest.py)
and at the lowest CPU priority, it runs on whatever CPU the tests before the
one that needs it leave idle, instead of holding the suite up for ZamVerb's
load; that test then waits for it, and the scan (its probes too) goes back
to normal priority where the system allows it. Nothing runs when no selected
test asks for the ``full_scan`` fixture.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

VST3_DIR = Path("/usr/lib/vst3")
TIMEOUT = 3600.0  # one probe, wall clock: ZamVerb takes ~90 s alone, far more at the lowest priority on a busy machine


class BackgroundScan:
    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._result: dict | None = None

    def start(self) -> None:
        home = Path(tempfile.mkdtemp(prefix="rackhost-full-scan-"))
        self.cache_dir, self.config_dir = home / "cache", home / "config"
        # Files, not pipes: nobody reads a pipe until a test waits, and ZamVerb writes ~100 kB of warnings.
        self._out, self._err = home / "scan.json", home / "scan.log"
        env = dict(os.environ, RACKHOST_CACHE_DIR=str(self.cache_dir), RACKHOST_CONFIG_DIR=str(self.config_dir))
        with self._out.open("w") as out, self._err.open("w") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rackhost.cli", "scan", "--folder", str(VST3_DIR), "--workers", "2",
                 "--timeout", str(TIMEOUT), "--json"],
                env=env, stdout=out, stderr=err,
            )
        # Its probes, started from here on, inherit the lowest priority.
        try:
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, 19)
        except OSError:  # already gone: result() reports how it ended
            pass

    def result(self) -> dict:
        """The scan's JSON summary, waiting for it if it is still running."""
        if self._result is None:
            if self._proc is None:
                self.start()
            for pid in _tree(self._proc.pid):  # type: ignore[union-attr]
                try:  # a test waits on it now: full speed (lowering niceness needs root or CAP_SYS_NICE)
                    os.setpriority(os.PRIO_PROCESS, pid, 0)
                except OSError:
                    break
            code = self._proc.wait(timeout=2 * TIMEOUT)  # type: ignore[union-attr]
            assert code == 0, self._err.read_text(errors="replace")[-2000:]
            self._result = json.loads(self._out.read_text())
        return self._result

    def stop(self) -> None:
        """End the scan (and its probes) if no test waited for it: a run stopped early, or by -x."""
        if self._proc is not None and self._proc.poll() is None:
            for pid in reversed(_tree(self._proc.pid)):  # the probes (each in a session of its own) first
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self._proc.wait()


def _tree(root: int) -> list[int]:
    """``root`` and every process below it, parents before children."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree = [root]
    for pid in tree:
        tree += [child for child, parent in parents.items() if parent == pid]
    return tree
