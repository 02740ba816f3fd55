"""The scan: find plug-in bundles, probe new and changed ones in child processes, keep the results.

Each bundle is probed by its own ``python -m rackhost.chain.discovery.probe``
process (see :mod:`rackhost.chain.discovery.probe`), up to ``workers`` at once.
A child that segfaults, aborts or outlives the time limit only marks that
plug-in failed; the scan goes on and the host process is never at risk.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from rackhost.chain.discovery.cache import PluginCache, PluginRecord, fingerprint
from rackhost.chain.discovery.protocol import PROTOCOL_LOADING
from rackhost.chain.discovery.trust import scan_folders
from rackhost.chain.folders import find_plugin_files
from rackhost.errors import RackhostError

# ZamVerb legitimately takes ~90 s to load on a 2-core machine.
DEFAULT_TIMEOUT = 180.0
# Time allowed for the child's Python to start and import rackhost, before the
# plug-in's own limit starts; only a broken installation comes near it.
STARTUP_LIMIT = 60.0
_POLL_SECONDS = 0.05
_STDERR_TAIL_BYTES = 4096
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]

ProgressCallback = Callable[[int, int, PluginRecord], None]


@dataclass
class ScanSummary:
    """What a scan found and did. Paths are bundle paths as strings."""

    found: int
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    probed: list[str] = field(default_factory=list)
    failed: list[PluginRecord] = field(default_factory=list)  # every failed plug-in found, probed now or before
    records: list[PluginRecord] = field(default_factory=list)  # every plug-in found, sorted by name
    seconds: float = 0.0
    cache_warning: str | None = None

    @property
    def unchanged(self) -> int:
        return self.found - len(self.new) - len(self.changed)

    def to_dict(self) -> dict:
        return {
            "found": self.found, "new": self.new, "changed": self.changed, "removed": self.removed,
            "probed": self.probed, "failed": [{"path": r.path, "error": r.error} for r in self.failed],
            "seconds": round(self.seconds, 3), "cache_warning": self.cache_warning,
            "plugins": [r.to_dict() for r in self.records],
        }


def scan(
    folders: list[Path] | None = None,
    *,
    rescan: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
    cache_path: Path | None = None,
    progress: ProgressCallback | None = None,
) -> ScanSummary:
    """Scan ``folders`` (default: :func:`scan_folders`), probing only new and changed bundles unless ``rescan``.

    ``progress(done, total, record)`` is called on the calling thread after each probe.
    """
    if timeout <= 0:
        raise RackhostError(f"scan time limit {timeout!r} s must be more than 0 seconds")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise RackhostError(f"scan workers {workers!r} must be at least 1")
    started = time.perf_counter()
    cache = PluginCache.load(cache_path)
    folders = [Path(os.path.abspath(f)) for f in (scan_folders() if folders is None else folders)]
    bundles = sorted(str(Path(p).absolute()) for p in find_plugin_files(folders).values())
    summary = ScanSummary(found=len(bundles), cache_warning=cache.warning)

    prints: dict[str, str] = {}
    for path in bundles:
        try:
            prints[path] = fingerprint(Path(path))
        except OSError as err:  # vanished or unreadable between listing and stat
            cache.records[path] = PluginRecord(path, "", "failed", error=f"cannot read the bundle: {err}")
            continue
        old = cache.records.get(path)
        if old is None:
            summary.new.append(path)
        elif old.fingerprint != prints[path]:
            summary.changed.append(path)
        if rescan or old is None or old.fingerprint != prints[path]:
            summary.probed.append(path)
    summary.removed = sorted(p for p in set(cache.records) - set(bundles) if _gone(Path(p), folders))
    for path in summary.removed:
        del cache.records[path]

    try:
        _probe_all(summary.probed, prints, timeout, workers, cache, progress)
    finally:
        # Keep what was probed even if the scan is interrupted.
        cache.save()
    summary.records = sorted((cache.records[p] for p in bundles), key=lambda r: (r.name.lower(), r.path))
    summary.failed = [r for r in summary.records if not r.ok]
    summary.seconds = time.perf_counter() - started
    return summary


def _gone(bundle: Path, scanned: list[Path]) -> bool:
    """Whether a cached bundle the scan did not find is gone, rather than merely out of this scan's view.

    A scan of one folder must not forget plug-ins cached from the others; one
    in a scanned folder but not found was deleted (or is now shadowed by a
    same-named bundle in an earlier folder, which is the one rackhost loads).
    """
    return not bundle.exists() or any(bundle.is_relative_to(folder) for folder in scanned)


def _probe_all(paths: list[str], prints: dict[str, str], timeout: float, workers: int,
               cache: PluginCache, progress: ProgressCallback | None) -> None:
    if not paths:
        return
    live = _LiveProbes()
    pool = ThreadPoolExecutor(max_workers=min(workers, len(paths)), thread_name_prefix="rackhost-scan")
    try:
        futures: dict[Future, str] = {pool.submit(probe_bundle, p, timeout, live): p for p in paths}
        for done, future in enumerate(as_completed(futures), 1):
            path = futures[future]
            record = future.result()
            record.fingerprint = prints[path]
            cache.records[path] = record
            if progress:
                progress(done, len(paths), record)
    except BaseException:
        # Ctrl-C or an error: children run in their own session and would not
        # see the terminal's SIGINT, so stop them here.
        live.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _LiveProbes:
    """The probe processes now running, so an interrupted scan can stop them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        self.stopping = False

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)
            if self.stopping:
                _kill(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self) -> None:
        with self._lock:
            self.stopping = True
            for proc in self._procs:
                _kill(proc)


def probe_bundle(path: str | Path, timeout: float = DEFAULT_TIMEOUT, live: _LiveProbes | None = None) -> PluginRecord:
    """Probe one bundle in a child process; never raises for anything the plug-in does."""
    path = str(path)
    started = time.perf_counter()
    # Files, not pipes: a plug-in that prints megabytes (ZamVerb does) cannot
    # fill a pipe and stall, and the parent can watch stdout for the protocol
    # without a reader thread per child.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rackhost.chain.discovery.probe", path],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_child_env(),
            start_new_session=os.name == "posix",
        )
        if live:
            live.add(proc)
        try:
            outcome = _wait(proc, out, timeout)
        finally:
            _kill(proc)
            proc.wait()
            if live:
                live.discard(proc)
        seconds = time.perf_counter() - started
        if outcome is not None:
            return PluginRecord(path, "", "failed", error=outcome, probe_seconds=seconds)
        return _record_from_output(path, proc.returncode, _read(out), _tail(err), seconds)


def _wait(proc: subprocess.Popen, out: IO[bytes], timeout: float) -> str | None:
    """Wait for the child to exit; a reason string if it had to be stopped for taking too long."""
    spawned = time.monotonic()
    loading_since: float | None = None
    while True:
        try:
            proc.wait(timeout=_POLL_SECONDS)
            return None
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if loading_since is None and os.fstat(out.fileno()).st_size > 0:
            loading_since = now  # the child printed "loading": the plug-in's clock starts
        if loading_since is not None and now - loading_since > timeout:
            return f"did not answer within {timeout:g} s (stopped; raise the limit with --timeout if it is just slow)"
        if loading_since is None and now - spawned > STARTUP_LIMIT:
            return f"the probe process did not start within {STARTUP_LIMIT:g} s"


def _record_from_output(path: str, returncode: int, stdout: str, stderr_tail: str, seconds: float) -> PluginRecord:
    lines = [line for line in stdout.splitlines() if line.strip()]
    answer = None
    if len(lines) >= 2 and lines[0] == PROTOCOL_LOADING:
        try:
            answer = json.loads(lines[1])
        except ValueError:
            answer = None
    if returncode == 0 and isinstance(answer, dict):
        if answer.get("ok"):
            return PluginRecord(path, "", "ok", info=answer["plugin"], probe_seconds=seconds)
        return PluginRecord(path, "", "failed", error=str(answer.get("error")), probe_seconds=seconds)
    if returncode < 0:
        reason = f"crashed with {_signal_name(-returncode)} while loading"
    else:
        reason = f"the probe exited with status {returncode}"
    last = _last_line(stderr_tail)
    if last:
        reason += f" (last output: {last})"
    return PluginRecord(path, "", "failed", error=reason, probe_seconds=seconds)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            # The whole session: a plug-in may have started helper processes.
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import this same rackhost, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read(f: IO[bytes]) -> str:
    f.seek(0)
    return f.read().decode("utf-8", "replace")


def _tail(f: IO[bytes]) -> str:
    size = os.fstat(f.fileno()).st_size
    f.seek(max(0, size - _STDERR_TAIL_BYTES))
    return f.read().decode("utf-8", "replace")


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        # Strip terminal colour codes DPF puts around its assertion messages.
        line = _ANSI_ESCAPE.sub("", line).strip()
        if line:
            return line[:200]
    return ""
