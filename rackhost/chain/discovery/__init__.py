"""Plug-in discovery: crash-proof scanning in child processes, the scan cache, and which plug-ins are trusted.

Separate from hosting (as in Carla): nothing here loads a plug-in into the
calling process; :mod:`.probe` does that in a child, and :mod:`.guard` makes
every load wait for a child's probe.
"""

from rackhost.chain.discovery.cache import PluginCache, PluginRecord, default_cache_path, fingerprint
from rackhost.chain.discovery.guard import PluginProbeFailed, check_probed, probe_timeout
from rackhost.chain.discovery.scanner import DEFAULT_TIMEOUT, ScanSummary, probe_bundle, scan
from rackhost.chain.discovery.trust import (
    UntrustedPluginError,
    add_folder,
    added_folders,
    check_trusted,
    is_trusted,
    scan_folders,
)

__all__ = [
    "DEFAULT_TIMEOUT", "PluginCache", "PluginProbeFailed", "PluginRecord", "ScanSummary", "UntrustedPluginError",
    "add_folder", "added_folders", "check_probed", "check_trusted", "default_cache_path", "fingerprint", "is_trusted",
    "probe_bundle", "probe_timeout", "scan", "scan_folders",
]
