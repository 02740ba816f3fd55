"""Plug-in scan benchmark: a cold scan of the 17 zam-plugins VST3s with 1 worker and with N, and a warm rescan.

Each cold scan uses a fresh, empty cache; the warm rescan reuses the last one
(nothing changed, so nothing is probed). ZamVerb alone takes ~90 s to load
here, which bounds what parallel probing can gain on this set.

    python bench/scan.py [--workers N] [--folder DIR] [--without ZamVerb]

``--without NAME`` scans a copy of the folder (links) without those bundles,
to see the parallel gain on plug-ins that load in well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rackhost.chain.discovery import scan


def cold(folder: Path, workers: int, cache_path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    summary = scan([folder], workers=workers, timeout=600, cache_path=cache_path)
    return time.perf_counter() - started, len(summary.probed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--folder", type=Path, default=Path("/usr/lib/vst3"))
    parser.add_argument("--without", action="append", default=[], metavar="NAME", help="leave this bundle out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as linked:
        folder = args.folder
        if args.without:
            folder = Path(linked)
            for bundle in args.folder.glob("*.vst3"):
                if bundle.stem not in args.without:
                    (folder / bundle.name).symlink_to(bundle)
        return run(folder, args.workers)


def run(folder: Path, workers: int) -> int:
    args = argparse.Namespace(folder=folder, workers=workers)

    with tempfile.TemporaryDirectory() as cache:
        one, probed = cold(args.folder, 1, Path(cache) / "one.json")
        print(f"cold scan, 1 worker:  {one:7.2f} s ({probed} plug-ins probed)")
        many, _ = cold(args.folder, args.workers, Path(cache) / "many.json")
        print(f"cold scan, {args.workers} workers: {many:7.2f} s")
        started = time.perf_counter()
        warm = scan([args.folder], workers=args.workers, cache_path=Path(cache) / "many.json")
        warm_seconds = time.perf_counter() - started
    print(f"warm rescan:          {warm_seconds:7.3f} s ({len(warm.probed)} probed)")
    print(json.dumps({"plugins": probed, "cold_1_worker_s": round(one, 3), "workers": args.workers,
                      "cold_n_workers_s": round(many, 3), "parallel_speedup": round(one / many, 3),
                      "warm_rescan_s": round(warm_seconds, 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
