"""The probe guard: no plug-in bundle is loaded into a rackhost process before a child process loaded it safely.

A bundle that crashes (SIGABRT, SIGBUS, SIGSEGV) or hangs while loading takes
the whole process with it: a render, the window with its unsaved edits, the
live engine. So :func:`check_probed` stands in front of every load
(:meth:`rackhost.chain.plugin.Plugin.load` calls it):

* a bundle whose last probe failed is refused with the probe's reason
  (:class:`PluginProbeFailed`) until the user retries it
  (``rackhost plugins --retry NAME``) or the bundle changes on disk;
* a bundle not scanned yet, or changed since its probe (the cache compares a
  fingerprint of its files), is probed now in a child process with a time
  limit, and the result is cached as a scan's would be, so only the first
  load pays for it.

Built-ins never come here: they are pedalboard's own code.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rackhost.chain.discovery.cache import PluginCache, PluginRecord, fingerprint
from rackhost.chain.discovery.scanner import DEFAULT_TIMEOUT, probe_bundle
from rackhost.chain.discovery.trust import scan_folders
from rackhost.chain.folders import find_plugin_file
from rackhost.errors import PluginProbeFailed, RackhostError

# Seconds a first-load probe may take (the same default as 'rackhost scan --timeout').
TIMEOUT_VARIABLE = "RACKHOST_PROBE_TIMEOUT"

# One probe at a time per process: the window's plug-in thread and a render
# must not probe the same new bundle twice, nor save the cache over each other.
_lock = threading.Lock()


def probe_timeout() -> float:
    """The first-load probe's time limit: ``$RACKHOST_PROBE_TIMEOUT`` seconds, or the scan's default."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise RackhostError(f"{TIMEOUT_VARIABLE}={text!r} is not a number of seconds above 0; "
                            f"set it to e.g. 180, or unset it")
    return value


def check_probed(bundle: str | Path, cache_path: Path | None = None) -> PluginRecord:
    """The bundle's ok record, probing it first if it was never probed or changed since; refuses a failed one.

    Raises :class:`PluginProbeFailed` when its last probe (or the one run now) failed.
    """
    path = Path(os.path.abspath(bundle))
    with _lock:
        current = fingerprint(path)
        cache = PluginCache.load(cache_path)
        key, record = _find(cache, path)
        if record is None or record.fingerprint != current:
            record = probe_bundle(path, probe_timeout())
            record.fingerprint = current
            # Read again just before writing: a scan in another process may have saved meanwhile.
            cache = PluginCache.load(cache_path)
            cache.records[key] = record
            cache.save()
    if not record.ok:
        raise PluginProbeFailed(path.stem, str(path), record.error or "the probe failed without saying why",
                                _retry_argument(path))
    return record


def _retry_argument(path: Path) -> str:
    """The plug-in's name if looking it up by name finds this very bundle, else its path."""
    found = find_plugin_file(path.stem, scan_folders())
    return path.stem if found is not None and found.resolve() == path.resolve() else str(path)


def _find(cache: PluginCache, path: Path) -> tuple[str, PluginRecord | None]:
    """The record for ``path``: by its absolute path (as a scan stores it), or one naming the same bundle."""
    key = str(path)
    if key in cache.records:
        return key, cache.records[key]
    # A symlinked folder (build/vst3, ~/.vst3 -> elsewhere) or a path given another way.
    real = path.resolve()
    for other, record in cache.records.items():
        if Path(other).resolve() == real:
            return other, record
    return key, None

