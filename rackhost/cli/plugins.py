"""``rackhost plugins``: what a chain can take (built-ins and scanned VST3s), with parameters and latency."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    plugins = sub.add_parser("plugins", help="list built-ins and VST3 plug-ins with their parameters")
    plugins.add_argument("names", nargs="*", help="only these plug-ins (probed now if not scanned yet)")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument("--names-only", action="store_true",
                         help="only the names --chain takes, one a line (with --json: names and paths)")
    plugins.add_argument("--failed", action="store_true", help="plug-ins that failed their last probe, with the reason")
    plugins.add_argument("--retry", nargs="*", metavar="NAME",
                         help="probe these again (e.g. after updating them); with no NAME, every failed one")
    plugins.set_defaults(func=cmd_plugins)
    return plugins


def cmd_plugins(args: argparse.Namespace) -> int:
    """Built-ins described in-process; VST3s from the scan cache, probed in a child process when missing."""
    from rackhost.chain.builtins import builtin_names
    from rackhost.chain.discovery import PluginCache, fingerprint, probe_bundle, probe_timeout, scan_folders
    from rackhost.chain.folders import find_plugin_files
    from rackhost.cli.scan import failed_lines, plugins_failed

    if args.failed:
        records = plugins_failed()
        if args.json:
            print(json.dumps([r.to_dict() for r in records], indent=2))
        else:
            print("\n".join(failed_lines(records)) if records else "no plug-in failed its last probe")
        return 0

    bundles = find_plugin_files(scan_folders())
    by_name = {name.lower(): (name, path) for name, path in bundles.items()}
    if args.retry == []:  # '--retry' alone: every plug-in whose last probe failed
        failed_paths = {r.path for r in plugins_failed()}
        found = {str(Path(path).absolute()): name for name, path in bundles.items()}
        # By name where the folders find it; by path a bundle loaded from elsewhere (--allow-untrusted-plugin).
        args.retry = [found.get(p, p) for p in sorted(failed_paths) if p in found or Path(p).exists()]
        if not args.retry:
            print("no plug-in failed its last probe: nothing to retry")
            return 0
    cache = PluginCache.load()
    shown = {display.lower(): bundle for bundle, display in cache.display_names(bundles).items()}
    wanted = args.names or args.retry or []
    builtins_wanted = [n for n in wanted if n in builtin_names()] if wanted else builtin_names()
    external = []
    for name in wanted:
        if name in builtin_names():
            continue
        if args.retry and name.lower() not in by_name and Path(name).suffix.lower() in (".vst3", ".component") \
                and Path(name).exists():
            external.append((Path(name).stem, Path(name)))  # a bundle loaded by path, refused after its probe
            continue
        name = shown.get(name.lower(), name)  # '3 Band EQ', the name 3BandEQ.vst3 shows
        if name.lower() not in by_name:
            from rackhost.chain import Plugin

            Plugin.create(name)  # raises the standard "unknown plug-in" error, naming the folders
        external.append(by_name[name.lower()])
    if not wanted:
        external = sorted(bundles.items())

    listing = [_describe_builtin(name, args.names_only) for name in builtins_wanted]
    probed = False
    for name, path in external:
        key = str(Path(path).absolute())
        record = cache.records.get(key)
        stale = record is None or record.fingerprint != fingerprint(Path(path))
        if not args.names_only and (args.retry or (stale and wanted)):
            # Loading runs the plug-in's code: do it in a child process, as a scan would.
            print(f"probing {name} in a child process...", file=sys.stderr)
            record = probe_bundle(path, probe_timeout())
            record.fingerprint = fingerprint(Path(path))  # as a scan keeps it, so loads trust it without probing
            cache.records[key] = record
            probed = True
        listing.append(_describe_record(name, key, None if (stale and not probed) else record, args.names_only))
    if probed:
        cache.save()

    if args.names_only:
        # Exactly the names --chain takes, one a line, so the list can be piped: no header, no refused ones.
        usable = [item for item in listing if not item.get("refused")]
        for item in usable:
            item.pop("refused", None)
        print(json.dumps(usable, indent=2) if args.json else "\n".join(item["name"] for item in usable))
        return 0
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for item in listing:
        where = f"  {item['path']}" if "path" in item else ""
        print(f"{item['name']} [{item['format']}]{where}")
        if item.get("display_name"):
            print(f"    shows itself as {item['display_name']!r} (--chain takes either name)")
        if "error" in item:
            print(f"    {item['error']}")
        if "channels" in item:
            print(f"    channels: {item['channels']}; latency {_latency_text(item)}")
        for param in item.get("parameters", []):
            print(f"    {param['describe']}")
    return 0


def _latency_text(item: dict) -> str:
    at = item.get("latency_at")
    if at is None:  # a VST3 reports one figure for every rate and block size
        return f"{item['latency_samples']} samples"
    return f"{item['latency_samples']} samples at {at['sample_rate']} Hz, {at['block_size']}-frame blocks"


def _describe_builtin(name: str, names_only: bool) -> dict:
    from rackhost.chain.builtins import BLOCKWISE_BROKEN_BUILTINS, describe_builtin

    item: dict = {"name": name, "format": "builtin"}
    if name in BLOCKWISE_BROKEN_BUILTINS:  # refused by a chain (rackhost.chain.plugin), so never offered as usable
        item.update(refused=True, error=f"not usable in a chain: {BLOCKWISE_BROKEN_BUILTINS[name]}")
        return item
    item["channels"] = "any"
    if not names_only:
        item.update(_builtin_latency(name))
        params = describe_builtin(name)
        item["parameters"] = [dict(info.to_dict(), describe=info.describe()) for info in params.values()]
    return item


def _builtin_latency(name: str) -> dict:
    """What a built-in holds back at the default rate and block size, measured as a render measures it.

    Buffering built-ins hold back an amount that depends on both (BrickwallLimiter: 240 samples at
    48 kHz, 220 at 44.1 kHz; MP3Compressor: 3,609 at 64-frame blocks, 3,481 at 512), so the figure says
    which rate and block it is for.
    """
    from rackhost.chain import Plugin
    from rackhost.chain.builtins import REQUIRED_ARGUMENTS
    from rackhost.chain.session import DEFAULT_BLOCK_SIZE, DEFAULT_SAMPLE_RATE

    at = {"sample_rate": DEFAULT_SAMPLE_RATE, "block_size": DEFAULT_BLOCK_SIZE}
    if name in REQUIRED_ARGUMENTS:  # Convolution needs its file to be made; JUCE's convolution adds no delay
        return {"latency_samples": 0, "latency_at": at}
    latency = Plugin.builtin(name).latency(float(DEFAULT_SAMPLE_RATE), DEFAULT_BLOCK_SIZE)
    return {"latency_samples": latency, "latency_at": at}


def _describe_record(name: str, path: str, record: object, names_only: bool) -> dict:
    from rackhost.chain.parameters import ParameterInfo

    item: dict = {"name": name, "format": "vst3", "path": path}
    if names_only:
        if record is not None and not record.ok:  # type: ignore[attr-defined]
            item["refused"] = True  # a chain refuses a plug-in whose last probe failed, until it is retried
        elif record is not None and (record.info or {}).get("kind") == "instrument":  # type: ignore[attr-defined]
            item["refused"] = True  # it plays MIDI: --instrument takes it, a chain does not
        return item
    if record is None:
        item["error"] = "not scanned yet: run 'rackhost scan' (or 'rackhost plugins NAME' to probe this one)"
        return item
    if not record.ok:  # type: ignore[attr-defined]
        item["error"] = f"failed its probe: {record.error} (retry with 'rackhost plugins --retry {name}')"  # type: ignore[attr-defined]
        return item
    info = record.info  # type: ignore[attr-defined]
    params = [ParameterInfo.from_dict(p) for p in info["parameters"]]
    if info["name"] != name:
        item["display_name"] = info["name"]
    item.update(
        channels="/".join(info["layouts"]) or "none", latency_samples=info["latency_samples"],
        vendor=info["vendor"], version=info["version"], kind=info["kind"],
        parameters=[dict(p.to_dict(), describe=p.describe()) for p in params],
    )
    return item
