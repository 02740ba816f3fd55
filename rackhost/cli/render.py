"""``rackhost render``: a file through a chain (a bounce), or a session file, to an audio file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rackhost.cli.args import (
    BLOCK_SIZE,
    SAMPLE_RATE,
    chain_spec,
    folder,
    ranged,
    refuse_overwrite,
    text,
    usage,
)
from rackhost.cli.automate import apply_automation, automate_spec
from rackhost.cli.midi import add_render_midi_arguments, assign_midi
from rackhost.errors import RackhostError
from rackhost.presets.batch import apply_presets, refuse_bypassed_plugins

EXIT_TARGET_MISSED = 1  # the render was written, but missed its loudness target


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    render = sub.add_parser("render", help="render a file through a chain, or a session file")
    render.add_argument("input", nargs="?", type=text("an audio file"),
                        help="audio file to process (omit with --session)")
    render.add_argument("-o", "--output", required=True, type=text("an output file"),
                        help="output file: .wav, .flac or .aiff")
    render.add_argument("--chain", type=chain_spec,
                        help='e.g. "HighpassFilter(cutoff_frequency_hz=80); ZamCompX2(threshold_db=-20)"')
    render.add_argument("--session", type=text("a session file"),
                        help="render a multitrack session file (JSON) instead of one input")
    render.add_argument("--stems", type=text("a folder"), metavar="DIR",
                        help="with --session: also write every track and bus as its own file into DIR (created if "
                             "need be), post-fader as each feeds its destination, in the output's format")
    render.add_argument("--block-size", type=BLOCK_SIZE, help="frames per block (default: 512, or the session's)")
    render.add_argument("--sample-rate", type=SAMPLE_RATE, help="render rate (default: the input's, or the session's)")
    render.add_argument("--bit-depth", type=int, default=24, choices=(16, 24, 32), help="default 24 (32 = float)")
    render.add_argument("--max-tail", type=ranged(float, 0, 3600, "seconds"), default=30.0, metavar="SECONDS",
                        help="render reverb/delay tails until below -90 dBFS, at most this long (default 30)")
    render.add_argument("--no-tail", action="store_true", help="stop at the end of the input")
    render.add_argument("--keep-mono", action="store_true",
                        help="a mono INPUT stays mono through stereo-only plug-ins (their outputs summed back) "
                             "and is written mono, instead of turning stereo; in a session, set a track's keep_mono")
    render.add_argument("--threads", type=ranged(int, 1, 256, "threads"),
                        help="worker threads for tracks (default: one per core)")
    render.add_argument("--allow-untrusted-plugin", action="store_true",
                        help="load a plug-in given by path even outside the scanned folders (it runs its code)")
    render.add_argument("--preset", action="append", default=[], metavar="STAGE/NAME", type=text("STAGE/NAME"),
                        help="apply a preset (or a preset .json file); repeat to apply several in order")
    render.add_argument("--automate", action="append", default=[], type=automate_spec,
                        metavar="SLOT.PARAM=T:V,...",
                        help="an envelope on a --chain slot's parameter (or _mix): seconds:value points, or "
                             "@FILE.csv; SLOT is the plug-in's name (found inside splits too), its place from 1, "
                             "or a path into a split as 'midi map' writes it (1/0/0: slot 0 of branch 0 of the "
                             "split at slot 1, from 0); repeatable. "
                             "E.g. 'Gain.gain_db=0:0,2:-20' fades out over 2 s")
    render.add_argument("--json", action="store_true", help="print the report as JSON")
    add_render_midi_arguments(render)
    render.set_defaults(func=cmd_render)
    return render


def cmd_render(args: argparse.Namespace) -> int:
    from rackhost.chain import AudioFileSource, Plugin, Session
    from rackhost.chain.render import output_subtype, render_to_file
    from rackhost.chain.stems import stem_files
    from rackhost.cli.chain_spec import parse_chain, parse_item
    from rackhost.presets import load_session
    from rackhost.presets.preset import RestoreReport

    output = Path(args.output)
    output_subtype(output, args.bit_depth)  # fail on format/folder before any slow work
    if args.stems is not None and not args.session:
        raise usage("--stems writes a session's tracks and busses as files of their own; give --session SESSION "
                     "(one INPUT through a chain has no stems)")
    stems_folder = folder(args.stems, "--stems") if args.stems is not None else None
    refuse_overwrite(output, [args.input, args.session, *_midi_files(args.midi), *args.preset,
                              *(spec.csv for spec in args.automate if spec.csv is not None)])
    load_warnings: list[str] = []
    if args.session:
        if args.input or args.chain:
            raise usage("give either INPUT with --chain, or --session, not both")
        if args.keep_mono:
            raise usage("--keep-mono is for one INPUT; in a session, set \"keep_mono\": true on the track")
        if args.instrument:
            raise usage("--instrument is for --midi without a session; give a session's instruments as "
                         "tracks with an \"instrument\" in its file")
        if args.automate:
            raise usage("--automate is for INPUT with --chain; a session renders the envelopes in its file "
                         "(each strip's \"automation\")")
        loaded = RestoreReport()
        session = load_session(args.session, loaded)
        if not session.tracks:
            raise usage(f"session {args.session!r} has no tracks, so there is nothing to render; "
                         f"add a track with a \"source\" (or an \"instrument\") to its \"tracks\"")
        refuse_bypassed_plugins(loaded, f"session {args.session!r}")
        load_warnings = loaded.warnings()
        if args.block_size is not None:
            session.block_size = args.block_size
        if args.sample_rate is not None:
            session.sample_rate = args.sample_rate
    elif args.instrument:
        if args.input:
            raise usage("--instrument plays --midi; give it without an INPUT file")
        if not args.midi:
            raise usage(f"--instrument {args.instrument} plays a MIDI file: give --midi FILE.mid "
                         f"(without one it renders silence)")
        session = Session(sample_rate=args.sample_rate or 48000, block_size=args.block_size or 512)
        chain = parse_chain(args.chain, allow_untrusted=args.allow_untrusted_plugin) if args.chain else None
        name, values = parse_item(args.instrument.strip())  # "Nekobi" or "Nekobi(cutoff=40)"
        instrument = Plugin.create(name, allow_untrusted=args.allow_untrusted_plugin, **values)
        try:
            session.add_track(instrument.name, None, chain, instrument=instrument)
        except ValueError as err:  # an effect given as the instrument
            raise usage(str(err)) from None
    else:
        if not args.input:
            raise usage("give an INPUT file (with --chain), or --session SESSION")
        source = AudioFileSource(args.input)
        # A bounce: the file comes back as wide as its chain makes it, at unity, not as a track on a stereo master.
        session = Session(
            sample_rate=args.sample_rate or int(source.sample_rate),
            block_size=args.block_size or 512,
            track_bounce=True,
        )
        chain = parse_chain(args.chain, allow_untrusted=args.allow_untrusted_plugin) if args.chain else None
        session.add_track(Path(args.input).stem, source, chain, keep_mono=args.keep_mono)
    preset_warnings = load_warnings + apply_presets(
        session, args.preset, single_track=not args.session, allow_untrusted=args.allow_untrusted_plugin
    )
    if args.automate:
        apply_automation(session.tracks[0], args.automate)
    midi_notes = _keep_mono_note(args, session) + assign_midi(session, args.midi)
    # A session's own files: its tracks' audio (and MIDI), read again as the render runs.
    read = [getattr(t.source, "path", None) for t in session.tracks] + [getattr(t.midi, "path", None)
                                                                         for t in session.tracks]
    refuse_overwrite(output, read)
    if stems_folder is not None:
        for stem in stem_files(session, stems_folder, output.suffix):
            try:
                refuse_overwrite(stem.path, [*read, args.session, output])
            except RackhostError:
                raise usage(f"--stems {args.stems!r}: the stem of {stem.kind} {stem.name!r} would be written over "
                             f"{str(stem.path)!r}, which this render reads or writes; give another --stems folder"
                             ) from None

    started = time.perf_counter()
    progress = _Progress() if sys.stderr.isatty() else None
    result = render_to_file(
        session,
        output,
        bit_depth=args.bit_depth,
        tail=not args.no_tail,
        max_tail_seconds=args.max_tail,
        threads=args.threads,
        progress=progress,
        stems=stems_folder,
    )
    if progress:
        progress.done()
    elapsed = time.perf_counter() - started
    report = result.loudness()
    target = result.target_report
    if args.json:
        print(json.dumps({
            "output": str(output), "sample_rate": result.sample_rate, "channels": result.audio.shape[0],
            "frames": result.audio.shape[1],
            "latency_samples": result.latency, "tail_frames": result.tail_frames, "render_seconds": elapsed,
            "clipped_samples": result.clipped_samples, "notes": midi_notes + result.notes,
            "stems": [{"kind": s.kind, "name": s.name, "path": str(s.path), "clipped_samples": s.clipped_samples}
                      for s in result.stems],
            "warnings": preset_warnings,
            **report.to_dict(),
            **({"target_lufs": target.target.integrated_lufs, "target_true_peak_dbtp": target.target.true_peak_dbtp,
                "within_target": target.within, "target_missed_because": target.reason} if target else {}),
        }))
        return _target_status(target, output)
    for note in midi_notes + result.notes:
        print(f"note: {note}")
    for warning in preset_warnings:
        print(f"warning: {warning}")
    width = {1: "mono", 2: "stereo"}[result.audio.shape[0]]
    print(f"wrote {output} ({result.seconds:.2f} s at {result.sample_rate} Hz, {args.bit_depth}-bit {width}) "
          f"in {elapsed:.2f} s ({result.seconds / max(elapsed, 1e-9):.0f}x real time)")
    for stem in result.stems:
        print(f"wrote stem of {stem.kind} {stem.name!r}: {stem.path}")
        if stem.clipped_samples:
            print(f"warning: {stem.clipped_samples} samples of the stem of {stem.kind} {stem.name!r} were above "
                  f"0 dBFS and clipped in the {args.bit_depth}-bit file; write 32-bit float to keep them")
    if result.latency:
        print(f"latency compensated: {result.latency} samples trimmed from the start")
    if result.tail_frames:
        print(f"tail: {result.tail_frames / result.sample_rate:.2f} s rendered past the end of the input")
    if result.clipped_samples:
        print(f"warning: {result.clipped_samples} samples were above 0 dBFS and clipped in the "
              f"{args.bit_depth}-bit file; lower the gain or add a limiter, or write 32-bit float")
    for line in report.lines():
        print(line)
    if target:
        for line in target.lines():
            print(line)
    return _target_status(target, output)


def _target_status(target: object, output: Path) -> int:
    """0, or 1 when a loudness target was missed: the file is written as it came out, but a script must know."""
    if target is None or target.within:  # type: ignore[attr-defined]
        return 0
    print(f"rackhost: warning: the loudness target was missed; {str(output)!r} is written as it came out "
          f"(exit status {EXIT_TARGET_MISSED})", file=sys.stderr)
    return EXIT_TARGET_MISSED


def _keep_mono_note(args: argparse.Namespace, session: object) -> list[str]:
    """A note when ``--keep-mono`` has nothing to keep: the INPUT is stereo already (rendered as usual)."""
    if not args.keep_mono or args.session or not args.input:
        return []
    source = session.tracks[0].source  # type: ignore[attr-defined]
    if source is None or source.channels < 2:
        return []
    return [f"--keep-mono has no effect: {args.input!r} is already stereo ({source.channels} channels); "
            f"it is rendered as usual"]


def _midi_files(specs: list[str]) -> list[str]:
    """The files of ``--midi FILE`` / ``--midi TRACK=FILE``."""
    return [spec if Path(spec).exists() else spec.partition("=")[2] or spec for spec in specs]


class _Progress:
    """A one-line progress bar on stderr for long renders."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, done: int, expected: int) -> None:
        if time.perf_counter() - self.started < 1.0:
            return  # short renders finish before a bar is worth drawing
        fraction = min(1.0, done / max(expected, 1))
        bar = "#" * int(fraction * 30)
        sys.stderr.write(f"\rrendering [{bar:<30}] {fraction:4.0%}")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
