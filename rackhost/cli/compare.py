"""``rackhost compare``: a shoot-out of chains on one input, loudness-matched, with a report."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rackhost.cli.args import BLOCK_SIZE, SAMPLE_RATE, chain_spec, folder, ranged, refuse_overwrite, text, usage
from rackhost.cli.render import apply_presets

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # it names a file: LABEL.wav
_RESERVED = {"input", "report"}  # input.wav, report.json and report.html are written beside the candidates


class _AddCandidate(argparse.Action):
    """``--chain`` and ``--preset`` each add one candidate, kept in the order they were given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: object,
                 option: str | None = None) -> None:
        namespace.candidates = [*(getattr(namespace, "candidates", None) or []), (self.const, value)]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    compare = sub.add_parser(
        "compare", help="render an input through several chains and compare them at matched loudness",
        description="Render INPUT through each candidate (each --chain and each --preset is one, in the order "
                    "given), match every side in loudness (BS.1770), and write DIR/input.wav, DIR/LABEL.wav "
                    "for each candidate, DIR/report.json and DIR/report.html.")
    compare.add_argument("input", type=text("an audio file"), help="audio file to process")
    compare.add_argument("-o", "--output", required=True, type=text("an output folder"), metavar="DIR",
                         help="folder for the matched files and the report (created if need be)")
    compare.add_argument("--chain", action=_AddCandidate, const="chain", type=chain_spec, dest="candidates",
                         metavar="CHAIN",
                         help='a candidate chain, e.g. "Compressor(threshold_db=-18); Gain(gain_db=3)"')
    compare.add_argument("--preset", action=_AddCandidate, const="preset", type=text("STAGE/NAME"),
                         dest="candidates", metavar="STAGE/NAME",
                         help="a candidate preset (or preset .json file), applied to the input's track")
    compare.add_argument("--label", action="append", default=[], type=text("a label"),
                         help="name the candidates in order (default A, B, C, ...); each names its file LABEL.wav")
    compare.add_argument("--match-to", default="input", metavar="LABEL",
                         help="the side every other is matched to: 'input' (default) or a candidate's label")
    compare.add_argument("--ceiling", type=ranged(float, -20, 0, "dBTP"), default=0.0, metavar="DBTP",
                         help="no matched file's true peak goes above this (default 0); if one would, every "
                              "side is matched lower")
    compare.add_argument("--block-size", type=BLOCK_SIZE, default=512, help="frames per block (default 512)")
    compare.add_argument("--sample-rate", type=SAMPLE_RATE, help="render rate (default: the input's)")
    compare.add_argument("--bit-depth", type=int, default=24, choices=(16, 24, 32), help="default 24 (32 = float)")
    compare.add_argument("--max-tail", type=ranged(float, 0, 3600, "seconds"), default=30.0, metavar="SECONDS",
                         help="render reverb/delay tails until below -90 dBFS, at most this long (default 30)")
    compare.add_argument("--no-tail", action="store_true", help="stop every candidate at the end of the input")
    compare.add_argument("--allow-untrusted-plugin", action="store_true",
                         help="load a plug-in given by path even outside the scanned folders (it runs its code)")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    compare.set_defaults(func=cmd_compare, candidates=None)
    return compare


def cmd_compare(args: argparse.Namespace) -> int:
    from rackhost.chain import AudioFileSource, Session
    from rackhost.chain.shootout import INPUT_LABEL, Candidate, shoot_out, write_shoot_out
    from rackhost.cli.chain_spec import parse_chain

    given = args.candidates or []
    if len(given) < 2:
        raise usage(f"compare needs at least two candidates, got {len(given)}: give two or more --chain "
                    f"\"...\" or --preset STAGE/NAME (each one is a candidate)")
    labels = _labels(args.label, len(given))
    if args.match_to not in (INPUT_LABEL, *labels):
        raise usage(f"--match-to {args.match_to!r} is not a side of this compare; give 'input' or one of "
                    f"{', '.join(labels)}")
    out = folder(args.output, "-o", create=False)
    presets = [value for kind, value in given if kind == "preset"]
    for name in (INPUT_LABEL, *labels, "report"):
        for suffix in ((".json", ".html") if name == "report" else (".wav",)):
            refuse_overwrite(out / f"{name}{suffix}", [args.input, *presets])

    source = AudioFileSource(args.input)
    sample_rate = args.sample_rate or int(source.sample_rate)
    candidates = []
    warnings: list[str] = []
    for label, (kind, value) in zip(labels, given):
        # A bounce: the file comes back as wide as its chain makes it, at unity, as `rackhost render` writes it.
        session = Session(sample_rate=sample_rate, block_size=args.block_size, track_bounce=True)
        chain = parse_chain(value, allow_untrusted=args.allow_untrusted_plugin) if kind == "chain" else None
        session.add_track(Path(args.input).stem, source, chain)
        if kind == "preset":
            warnings += [f"{label}: {w}" for w in apply_presets(session, [value], single_track=True,
                                                                  allow_untrusted=args.allow_untrusted_plugin)]
        candidates.append(Candidate(label, value if kind == "chain" else f"preset {value}", session))

    input_audio = source.audio(sample_rate)
    result = shoot_out(
        input_audio, sample_rate, candidates, input_path=args.input, reference=args.match_to,
        ceiling_dbtp=args.ceiling, tail=not args.no_tail, max_tail_seconds=args.max_tail,
        notes=([source.note] if source.note else []) + warnings,
    )
    out = folder(args.output, "-o")  # created only once every side is rendered and matched
    report = write_shoot_out(result, out, args.bit_depth)
    if args.json:
        print(json.dumps(report))
        return 0
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"{result.plan.describe()}:")
    print(f"  {'side':<10} {'gain':>10} {'integrated':>11} {'short-term':>11} {'true peak':>10} "
          f"{'crest':>7} {'LRA':>6}")
    for side in report["sides"]:
        m = side["measured"]
        print(f"  {side['label']:<10} {side['gain_db']:+7.2f} dB {_cell(m['integrated_lufs'], 11)} "
              f"{_cell(m['short_term_max_lufs'], 11)} {_cell(m['true_peak_dbtp'], 10)} "
              f"{_cell(m['crest_factor_db'], 7)} {_cell(m['loudness_range_lu'], 6)}")
    print("  (loudness in LUFS, true peak in dBTP, crest factor in dB, loudness range in LU; as rendered, "
          "before the gain)")
    print(f"wrote {', '.join(side['label'] + '.wav' for side in report['sides'])}, report.json and report.html "
          f"in {out}")
    return 0


def _labels(given: list[str], count: int) -> list[str]:
    """The candidates' labels: ``--label`` in order, or A, B, C, ... (AA, AB after Z)."""
    if not given:
        return [_letters(i) for i in range(count)]
    if len(given) != count:
        raise usage(f"{len(given)} --label for {count} candidates; give one --label per --chain/--preset, "
                    f"or none (they are then called A, B, C, ...)")
    for label in given:
        if not _LABEL.match(label) or label.lower() in _RESERVED:
            raise usage(f"--label {label!r} cannot name a file here; use letters, digits, '-', '_' and '.' "
                        f"(not 'input' or 'report', which the compare writes itself)")
    lowered = [label.lower() for label in given]
    twice = sorted({label for label in given if lowered.count(label.lower()) > 1})
    if twice:
        raise usage(f"--label {twice[0]!r} is given twice; each candidate needs its own label (it names its file)")
    return given


def _letters(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _cell(value: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:{width}.2f}"
