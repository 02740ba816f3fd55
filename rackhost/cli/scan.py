"""``rackhost scan``: find plug-ins, probe new and changed ones in child processes, print a summary.

Hooked into the main parser by :func:`add_parser`; errors are
:class:`RackhostError` subclasses, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from rackhost.chain.discovery import (
    DEFAULT_TIMEOUT,
    PluginCache,
    PluginRecord,
    ScanSummary,
    add_folder,
    scan,
    scan_folders,
)
from rackhost.cli.args import ranged, text


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``scan`` on the main parser's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "scan",
        help="find VST3 plug-ins and probe them safely in child processes (results are cached)",
        description="Probe every plug-in bundle in the plug-in folders, each in its own process with a "
                    "time limit, and cache what was found. Only new and changed bundles are probed again.",
    )
    parser.add_argument("--rescan", action="store_true", help="probe every plug-in again, not only new and changed ones")
    parser.add_argument("--add-path", action="append", metavar="DIR", default=[], type=text("a folder"),
                        help="trust and scan this folder from now on (kept in the user config folder); repeatable")
    parser.add_argument("--folder", action="append", metavar="DIR", type=_existing_folder, default=[],
                        help="scan only this folder this time (default: every plug-in folder); repeatable")
    parser.add_argument("--timeout", type=ranged(float, 0.1, 3600, "seconds"), default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help=f"time limit for loading one plug-in (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--workers", type=ranged(int, 1, 64, "probes"), metavar="N",
                        help="probes run at once (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print the summary and every plug-in as JSON")
    parser.set_defaults(func=cmd_scan)
    return parser


def _existing_folder(value: str) -> Path:
    """``--folder``: a folder that exists (a typo would scan nothing and report 0 plug-ins, without a word)."""
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is not an existing folder; give the folder that holds "
                                         f"the .vst3 bundles")
    return Path(value)


def cmd_scan(args: argparse.Namespace) -> int:
    for folder in args.add_path:
        added = add_folder(folder)
        print(f"added plug-in folder {added}: its plug-ins are trusted and scanned from now on", file=sys.stderr)
    folders = args.folder or scan_folders()
    progress = _ScanProgress(sys.stderr)
    summary = scan(folders, rescan=args.rescan, timeout=args.timeout, workers=args.workers, progress=progress)
    progress.done()
    if summary.cache_warning:
        print(f"rackhost: warning: {summary.cache_warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        for line in summary_lines(summary, sum(1 for f in folders if Path(f).is_dir())):
            print(line)
    return 0


def summary_lines(summary: ScanSummary, folder_count: int) -> list[str]:
    """The human summary: counts on one line, then the failed and removed plug-ins by path."""
    lines = [
        f"found {summary.found} plug-in{'s' if summary.found != 1 else ''} in {folder_count} "
        f"folder{'s' if folder_count != 1 else ''}: {len(summary.new)} new, {len(summary.changed)} changed, "
        f"{summary.unchanged} unchanged, {len(summary.failed)} failed, {len(summary.removed)} removed; "
        f"probed {len(summary.probed)} in {summary.seconds:.1f} s"
    ]
    if summary.failed:
        lines.append(f"failed ({len(summary.failed)}; probed again only when they change, or with 'rackhost scan --rescan'):")
        lines += failed_lines(summary.failed)
    if summary.removed:
        lines.append(f"removed ({len(summary.removed)}):")
        lines += [f"  {path}" for path in summary.removed]
    return lines


def plugins_failed(cache_path: Path | None = None) -> list[PluginRecord]:
    """Plug-ins the last scans marked failed, from the cache, by name (for ``rackhost plugins``)."""
    return sorted(PluginCache.load(cache_path).failed(), key=lambda r: (r.name.lower(), r.path))


def failed_lines(records: list[PluginRecord]) -> list[str]:
    return [f"  {r.name}: {r.error}  [{r.path}]" for r in records]


class _ScanProgress:
    """One line per probe, or a single updating line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = False

    def __call__(self, done: int, total: int, record: PluginRecord) -> None:
        width = len(str(total))
        if record.ok and record.info:
            info = record.info
            what = (f"ok, {'/'.join(info['layouts']) or 'no mono/stereo layout'}, "
                    f"{len(info['parameters'])} parameters, loaded in {info['load_seconds']:.2f} s")
        else:
            what = f"FAILED: {record.error}"
        line = f"[{done:>{width}}/{total}] {record.name}: {what}"
        if self.tty and record.ok:
            self.stream.write(f"\r\x1b[K{line[:120]}")
            self.shown = True
        else:
            # Failures stay on screen; on a terminal they also end the updating line.
            self.stream.write(("\r\x1b[K" if self.tty else "") + line + "\n")
            self.shown = False
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
