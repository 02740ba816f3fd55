"""``rackhost batch``: many files (or folders of them) through one chain, on every core, resumable.

The engine is :mod:`rackhost.chain.batch`; this module reads the command line,
turns ``--chain``/``--preset`` into a recipe each worker builds its own chain
from (plug-ins cannot be pickled), and prints the progress and the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rackhost.cli.args import (
    BLOCK_SIZE,
    SAMPLE_RATE,
    chain_spec,
    folder,
    ranged,
    text,
    usage,
)
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import batch as recipes
from rackhost.presets.batch import DEFAULT_CEILING_DBTP

EXIT_FILES_FAILED = 1  # also when a file missed its loudness target, as 'rackhost render' does


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    batch = sub.add_parser("batch", help="render many files (or folders of them) through one chain, on every core")
    batch.add_argument("inputs", nargs="+", metavar="INPUT", type=text("an audio file or a folder"),
                       help="audio files, and folders searched recursively for audio files")
    batch.add_argument("-o", "--output", required=True, metavar="OUTDIR", type=text("an output folder"),
                       help="folder for the outputs (created if need be); a folder's layout is kept below it")
    batch.add_argument("--chain", type=chain_spec,
                       help='e.g. "HighpassFilter(cutoff_frequency_hz=80); ZamCompX2(threshold_db=-20)"')
    batch.add_argument("--session", type=text("a session file"),
                       help="render each input as the one audio-file track of this session (its mix, at its rate)")
    batch.add_argument("--preset", action="append", default=[], metavar="STAGE/NAME", type=text("STAGE/NAME"),
                       help="apply a preset (or a preset .json file); repeat to apply several in order")
    batch.add_argument("--name", default="{stem}.{ext}", type=text("an output name pattern"),
                       help="output file name from {stem}, {ext} and {name} (default '{stem}.{ext}')")
    batch.add_argument("--format", choices=("wav", "flac", "aiff"),
                       help="output format (default: the input's, or wav when it cannot be written)")
    batch.add_argument("--loudness-target", type=ranged(float, -70, 0, "LUFS"), metavar="LUFS",
                       help="master each file to this integrated loudness (a limiter ends the master chain; "
                            "BrickwallLimiter(true_peak=true) is added if it has none)")
    batch.add_argument("--true-peak", type=ranged(float, -20, 0, "dBTP"), default=None, metavar="DBTP",
                       help=f"true-peak ceiling with --loudness-target (default {DEFAULT_CEILING_DBTP:g}, or the preset's)")
    batch.add_argument("--album", action="store_true",
                       help="with a loudness target: one gain for every file, so the loudest lands on the target "
                            "and the others keep their level below it (a first pass measures them all)")
    batch.add_argument("-j", "--jobs", type=ranged(int, 1, 256, "processes"),
                       help="worker processes (default: one per core)")
    batch.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS", type=text("a Ray address"),
                       help="run the files on a Ray cluster (pip install 'rackhost[cluster]'): at ADDRESS (e.g. "
                            "'auto', or the head's host:6379), or without one on a Ray started here; OUTDIR must "
                            "be a folder every node sees")
    batch.add_argument("--timeout", type=ranged(float, 0.1, 86400, "seconds"), metavar="SECONDS",
                       help="seconds one file may take before its worker is taken for hung "
                            "(default 120 plus 4 per second of audio)")
    batch.add_argument("--block-size", type=BLOCK_SIZE, help="frames per block (default 512)")
    batch.add_argument("--sample-rate", type=SAMPLE_RATE, help="render rate (default: each input's)")
    batch.add_argument("--bit-depth", type=int, default=24, choices=(16, 24, 32), help="default 24 (32 = float)")
    batch.add_argument("--max-tail", type=ranged(float, 0, 3600, "seconds"), default=30.0, metavar="SECONDS",
                       help="render reverb/delay tails until below -90 dBFS, at most this long (default 30)")
    batch.add_argument("--no-tail", action="store_true", help="stop at the end of each input")
    batch.add_argument("--keep-mono", action="store_true",
                       help="a mono input stays mono through stereo-only plug-ins and is written mono")
    batch.add_argument("--allow-untrusted-plugin", action="store_true",
                       help="load a plug-in given by path even outside the scanned folders (it runs its code)")
    batch.add_argument("--json", action="store_true", help="print the summary as JSON")
    batch.set_defaults(func=cmd_batch)
    return batch


@dataclass(frozen=True)
class SessionRecipe(recipes.SessionRecipe):
    """The command line's recipe: ``--chain`` is parsed as the command line writes it."""

    parse_chain: recipes.ChainParser | None = field(default=parse_chain, compare=False)


def cmd_batch(args: argparse.Namespace) -> int:
    from rackhost.chain.batch import RenderOptions, batch

    if not args.chain and not args.preset and not args.session:
        raise usage("say what to run each file through: --chain SPEC and/or --preset STAGE/NAME, or --session FILE")
    if args.session and (args.chain or args.keep_mono):
        raise usage("with --session, the chains are the session's: leave out --chain and --keep-mono "
                    "(set them on the session's track)")
    if args.true_peak is not None and args.loudness_target is None and not args.preset:
        raise usage("--true-peak is the ceiling of --loudness-target; give --loudness-target LUFS too")
    if args.album and args.loudness_target is None and not args.preset:
        raise usage("--album levels files to a loudness target: give --loudness-target LUFS, or a mastering preset "
                    "that has one (e.g. --preset mastering/streaming)")
    if args.ray and args.ray != "local" and Path(args.ray).exists():
        raise usage(f"--ray took {args.ray!r} as a cluster's address, but it is a file or folder here: put --ray "
                    f"after the inputs, or give it an address first (--ray auto)")
    outdir = folder(args.output, "-o", create=False)
    if args.session:
        from rackhost.presets.session_file import check_session_file

        check_session_file(args.session)  # a missing or broken file: said once, here, not by every worker
    recipe = SessionRecipe(args.chain, tuple(args.preset), args.session, args.allow_untrusted_plugin,
                           args.block_size, args.keep_mono, args.loudness_target, args.true_peak)
    options = RenderOptions(args.bit_depth, not args.no_tail, args.max_tail, args.sample_rate)
    progress = _ProgressLine() if sys.stderr.isatty() and not args.json else None
    # The window's batch dialog goes the same way: rackhost.chain.batch.batch (refusals, then the run).
    summary = batch(args.inputs, outdir, recipe, options, name=args.name, extension=args.format, workers=args.jobs,
                    timeout=args.timeout, album=args.album, ray=args.ray, progress=progress)
    if progress:
        progress.close()
    records = summary.finished
    if args.json:
        print(json.dumps({
            "outdir": str(outdir), "files": len(records), "done": summary.done, "failed": summary.failed,
            "skipped": summary.skipped, "missed_target": len(summary.missed_target), "seconds": summary.elapsed,
            "records": [{**asdict(r)} for r in records],
        }))
    else:
        _print_table(records, Path(outdir))
        ran = summary.done - summary.skipped
        print(f"{summary.done} done ({summary.skipped} already done), {summary.failed} failed, "
              f"{ran} rendered in {summary.elapsed:.1f} s; manifest: {outdir / 'rackhost-batch.jsonl'}")
    missed = summary.missed_target
    if missed:
        names = ", ".join(repr(r.input) for r in missed[:10]) + (f" and {len(missed) - 10} more" if len(missed) > 10 else "")
        print(f"rackhost: warning: {len(missed)} file{'s' if len(missed) != 1 else ''} missed the loudness target "
              f"and {'were' if len(missed) != 1 else 'was'} written as {'they' if len(missed) != 1 else 'it'} came "
              f"out: {names}; the notes say why (exit status {EXIT_FILES_FAILED})", file=sys.stderr)
    return EXIT_FILES_FAILED if summary.failed or missed else 0


def _print_table(records: list, outdir: Path) -> None:
    rows = [("file", "status", "LUFS in", "LUFS out", "TP out", "secs", "note")]
    for r in records:
        status = "skipped" if r.skipped else r.status
        rows.append((
            r.input, status, _num((r.before or {}).get("integrated_lufs")), _num((r.after or {}).get("integrated_lufs")),
            _num((r.after or {}).get("true_peak_dbtp")), f"{r.seconds:.2f}",
            r.reason or "; ".join(r.notes),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        print("  ".join(cell.ljust(w) if i in (0, 1) else cell.rjust(w) for i, (cell, w) in
                        enumerate(zip(row[:6], widths))) + (f"  {row[6]}" if row[6] else ""))


def _num(value: object) -> str:
    return "-" if value is None else f"{value:.1f}"


class _ProgressLine:
    """One line on stderr, redrawn as files end: done, failed, real-time factor, ETA."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, summary: object) -> None:
        s = summary  # rackhost.chain.batch.BatchSummary
        total = len(s.records)  # type: ignore[attr-defined]
        finished = len(s.finished)  # type: ignore[attr-defined]
        bar = "#" * int(20 * finished / max(total, 1))
        eta = s.eta()  # type: ignore[attr-defined]
        eta_text = "-" if eta is None else time.strftime("%H:%M:%S", time.gmtime(eta))
        sys.stderr.write(f"\r{s.phase} [{bar:<20}] {finished}/{total} files, {s.failed} failed, "  # type: ignore[attr-defined]
                         f"{s.realtime_factor():.0f}x real time, ETA {eta_text}  ")  # type: ignore[attr-defined]
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
