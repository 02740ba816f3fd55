"""The ``rackhost`` command: render, list plug-ins, run the demo.

Errors a user can cause exit with status 2 and one line naming the problem and the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rackhost import __version__
from rackhost.cli_args import (
    BLOCK_SIZE, EXIT_USAGE, SAMPLE_RATE, Parser, chain_spec, ranged, refuse_overwrite, text, window_size,
)
from rackhost.cli_devices import add_devices_parser, require_audio_devices
from rackhost.cli_midi import add_midi_parser, add_render_midi_arguments, assign_midi, live_midi
from rackhost.chain.teardown import free_plugins_quietly
from rackhost.cli_scan import add_scan_parser
from rackhost.errors import RackhostError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # a mistake on the command line (one line already printed), or --help
        return int(done.code or 0)
    try:
        return args.func(args)
    except RackhostError as err:
        print(f"rackhost: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rackhost: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rackhost plugins | head`: the reader has gone; say nothing more
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the final flush must not raise again
        except (OSError, ValueError):  # stdout is not a file descriptor (an embedding caller's stream)
            pass
        return 1
    finally:
        free_plugins_quietly()  # after everything the command had to say


EXIT_TARGET_MISSED = 1  # the render was written, but missed its loudness target


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rackhost", description="A plug-in host and effects rack.")
    parser.add_argument("--version", action="version", version=f"rackhost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render a file through a chain, or a session file")
    render.add_argument("input", nargs="?", type=text("an audio file"),
                        help="audio file to process (omit with --session)")
    render.add_argument("-o", "--output", required=True, type=text("an output file"),
                        help="output file: .wav, .flac or .aiff")
    render.add_argument("--chain", type=chain_spec,
                        help='e.g. "HighpassFilter(cutoff_frequency_hz=80); ZamCompX2(threshold_db=-20)"')
    render.add_argument("--session", type=text("a session file"),
                        help="render a multitrack session file (JSON) instead of one input")
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
    render.add_argument("--json", action="store_true", help="print the report as JSON")
    add_render_midi_arguments(render)
    render.set_defaults(func=_cmd_render)

    _add_presets_parser(sub)

    plugins = sub.add_parser("plugins", help="list built-ins and VST3 plug-ins with their parameters")
    plugins.add_argument("names", nargs="*", help="only these plug-ins (probed now if not scanned yet)")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument("--names-only", action="store_true",
                         help="only the names --chain takes, one a line (with --json: names and paths)")
    plugins.add_argument("--failed", action="store_true", help="plug-ins that failed their last probe, with the reason")
    plugins.add_argument("--retry", nargs="*", metavar="NAME",
                         help="probe these again (e.g. after updating them); with no NAME, every failed one")
    plugins.set_defaults(func=_cmd_plugins)

    add_scan_parser(sub)
    add_devices_parser(sub)
    add_midi_parser(sub)

    live = sub.add_parser("live", help="run a session live on the audio device: monitor, meter, record")
    live.add_argument("--session", required=True, type=text("a session file"),
                      help="session file; tracks with an 'input' take device channels")
    live.add_argument("--record", metavar="DIR", type=text("a folder for the takes"),
                      help="record armed tracks (dry and wet takes) into DIR (created if need be)")
    live.add_argument("--take-format", default="WAV", choices=("WAV", "RF64", "W64"),
                      help="WAV (default), or RF64/W64 for takes that may pass 4 GB")
    live.add_argument("--duration", type=ranged(float, 0.1, 7 * 24 * 3600, "seconds"), metavar="SECONDS",
                      help="stop after this long (default: Ctrl-C)")
    live.add_argument("--device", type=text("a device name or index"),
                      help="audio device name or index (see 'rackhost devices')")
    live.add_argument("--block-size", type=BLOCK_SIZE, help="frames per block (default 128)")
    live.add_argument("--midi-in", action="append", default=[], metavar="PORT", type=text("a MIDI input"),
                      help="listen to this MIDI input (see 'rackhost midi ports'), or virtual:NAME for a port of "
                           "rackhost's own; controllers follow the session's mappings, notes play its instrument "
                           "tracks, program changes recall presets from its program map; repeatable")
    live.add_argument("--midi-out", metavar="PORT", type=text("a MIDI output"),
                      help="send mapped targets' positions to this MIDI output (motorized faders, LED rings), "
                           "or virtual:NAME")
    live.set_defaults(func=_cmd_live)

    gui = sub.add_parser("gui", help="open the rack window (needs a display)")
    gui.add_argument("session", nargs="?", help="session file to open")
    gui.add_argument("--no-engine", action="store_true", help="do not start the live engine")
    gui.add_argument("--screenshot", metavar="PNG", type=text("a .png file"),
                     help="render a few frames, save a screenshot and exit")
    gui.add_argument("--play", action="store_true", help="start the transport once the engine runs")
    gui.add_argument("--view", choices=["presets", "render", "settings", "panel", "browser", "midi"],
                     help="open a view at start: the preset browser, render, audio settings, the first slot's "
                          "parameter panel, the plug-in browser, or the MIDI panel")
    gui.add_argument("--size", default=(1280, 720), type=window_size, metavar="WxH",
                     help="window size (default 1280x720)")
    gui.set_defaults(func=_cmd_gui)

    demo = sub.add_parser("demo", help="render the demo session (synthesized tracks through real plug-ins)")
    demo.add_argument("--out", default="demo-output", type=text("a folder"),
                      help="folder for the demo files (default demo-output)")
    demo.set_defaults(func=_cmd_demo)
    return parser


# -- render -----------------------------------------------------------------------


def _cmd_render(args: argparse.Namespace) -> int:
    from rackhost.chain import AudioFileSource, Session
    from rackhost.chain.render import output_subtype, render_to_file
    from rackhost.chain import Plugin
    from rackhost.chain.spec import parse_chain, parse_item
    from rackhost.presets import load_session
    from rackhost.presets.preset import RestoreReport

    output = Path(args.output)
    output_subtype(output, args.bit_depth)  # fail on format/folder before any slow work
    refuse_overwrite(output, [args.input, args.session, *_midi_files(args.midi), *args.preset])
    load_warnings: list[str] = []
    if args.session:
        if args.input or args.chain:
            raise _usage("give either INPUT with --chain, or --session, not both")
        if args.keep_mono:
            raise _usage("--keep-mono is for one INPUT; in a session, set \"keep_mono\": true on the track")
        if args.instrument:
            raise _usage("--instrument is for --midi without a session; give a session's instruments as "
                         "tracks with an \"instrument\" in its file")
        loaded = RestoreReport()
        session = load_session(args.session, loaded)
        if not session.tracks:
            raise _usage(f"session {args.session!r} has no tracks, so there is nothing to render; "
                         f"add a track with a \"source\" (or an \"instrument\") to its \"tracks\"")
        _refuse_bypassed_plugins(loaded, f"session {args.session!r}")
        load_warnings = loaded.warnings()
        if args.block_size is not None:
            session.block_size = args.block_size
        if args.sample_rate is not None:
            session.sample_rate = args.sample_rate
    elif args.instrument:
        if args.input:
            raise _usage("--instrument plays --midi; give it without an INPUT file")
        if not args.midi:
            raise _usage(f"--instrument {args.instrument} plays a MIDI file: give --midi FILE.mid "
                         f"(without one it renders silence)")
        session = Session(sample_rate=args.sample_rate or 48000, block_size=args.block_size or 512)
        chain = parse_chain(args.chain, allow_untrusted=args.allow_untrusted_plugin) if args.chain else None
        name, values = parse_item(args.instrument.strip())  # "Nekobi" or "Nekobi(cutoff=40)"
        instrument = Plugin.create(name, allow_untrusted=args.allow_untrusted_plugin, **values)
        try:
            session.add_track(instrument.name, None, chain, instrument=instrument)
        except ValueError as err:  # an effect given as the instrument
            raise _usage(str(err)) from None
    else:
        if not args.input:
            raise _usage("give an INPUT file (with --chain), or --session SESSION")
        source = AudioFileSource(args.input)
        # A bounce: the file comes back as wide as its chain makes it, at unity, not as a track on a stereo master.
        session = Session(
            sample_rate=args.sample_rate or int(source.sample_rate),
            block_size=args.block_size or 512,
            track_bounce=True,
        )
        chain = parse_chain(args.chain, allow_untrusted=args.allow_untrusted_plugin) if args.chain else None
        session.add_track(Path(args.input).stem, source, chain, keep_mono=args.keep_mono)
    preset_warnings = load_warnings + _apply_presets(
        session, args.preset, single_track=not args.session, allow_untrusted=args.allow_untrusted_plugin
    )
    midi_notes = _keep_mono_note(args, session) + assign_midi(session, args.midi)
    # A session's own files: its tracks' audio (and MIDI), read again as the render runs.
    refuse_overwrite(output, [getattr(t.source, "path", None) for t in session.tracks]
                     + [getattr(t.midi, "path", None) for t in session.tracks])

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


def _apply_presets(session: object, refs: list[str], single_track: bool, allow_untrusted: bool = False) -> list[str]:
    """Apply ``--preset`` references in order; returns values that did not land, for the user."""
    from rackhost.presets.apply import apply_preset
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    warnings: list[str] = []
    for ref in refs:
        preset = store.load(ref)
        if preset.kind != "master" and not single_track:
            raise RackhostError(
                f"preset {ref!r} is a {preset.kind} preset; with --session only master presets apply "
                f"(set track chains in the session file)"
            )
        track = session.tracks[0] if single_track else None  # type: ignore[attr-defined]
        report = apply_preset(preset, session, track, replace=False, source=ref,  # type: ignore[arg-type]
                              allow_untrusted=allow_untrusted)
        _refuse_bypassed_plugins(report, f"preset {ref!r}")
        warnings += report.warnings()
    return warnings


def _keep_mono_note(args: argparse.Namespace, session: object) -> list[str]:
    """A note when ``--keep-mono`` has nothing to keep: the INPUT is stereo already (rendered as usual)."""
    if not args.keep_mono or args.session or not args.input:
        return []
    source = session.tracks[0].source  # type: ignore[attr-defined]
    if source is None or source.channels < 2:
        return []
    return [f"--keep-mono has no effect: {args.input!r} is already stereo ({source.channels} channels); "
            f"it is rendered as usual"]


def _refuse_bypassed_plugins(report: object, what: str) -> None:
    """A render must not quietly drop a slot whose plug-in failed its probe: that would change the mix."""
    refused = report.refused  # type: ignore[attr-defined]
    if refused:
        raise RackhostError(f"{what} names a plug-in rackhost will not load, so it is not rendered: {refused[0]}")


def _midi_files(specs: list[str]) -> list[str]:
    """The files of ``--midi FILE`` / ``--midi TRACK=FILE``."""
    return [spec if Path(spec).exists() else spec.partition("=")[2] or spec for spec in specs]


def _usage(message: str) -> RackhostError:
    return RackhostError(message)


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


# -- plugins ----------------------------------------------------------------------


def _cmd_plugins(args: argparse.Namespace) -> int:
    """Built-ins described in-process; VST3s from the scan cache, probed in a child process when missing."""
    from rackhost.chain.builtins import builtin_names
    from rackhost.chain.discovery import PluginCache, fingerprint, probe_bundle, probe_timeout, scan_folders
    from rackhost.chain.folders import find_plugin_files
    from rackhost.cli_scan import failed_lines, plugins_failed

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


# -- live -------------------------------------------------------------------------


def _cmd_live(args: argparse.Namespace) -> int:
    from rackhost.chain.dsp import gain_to_db
    from rackhost.live import LiveEngine
    from rackhost.presets import load_session
    from rackhost.presets.preset import RestoreReport
    from rackhost.presets.session_file import check_session_file

    if args.record:
        _folder(args.record, "--record", create=False)  # a file there is refused before anything starts
    check_session_file(args.session)  # a typo in its name is a file error, not an audio-device error
    require_audio_devices()  # before the session's plug-ins load: without a device there is nothing to run
    loaded = RestoreReport()
    session = load_session(args.session, loaded)
    for warning in loaded.warnings():
        print(f"warning: {warning}")
    takes_folder = _folder(args.record, "--record") if args.record else None
    session.block_size = args.block_size or 128
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    engine = LiveEngine(session, device=device, midi=live_midi(session, args.midi_in, args.midi_out))
    engine.start()
    rate = session.sample_rate
    try:
        if takes_folder is not None:
            for take in engine.record(takes_folder, args.take_format):
                print(f"recording {take.track!r} to {take.dry_path.name} (dry) and {take.wet_path.name} (wet)")
        else:
            engine.play()
        stats = engine.stats()
        print(f"live at {rate} Hz, block {session.block_size}; round-trip latency {stats.latency_frames} frames "
              f"({1000 * stats.latency_frames / rate:.1f} ms: device {stats.device_latency_frames}, block "
              f"{session.block_size}, plug-ins {stats.plugin_latency_frames}); Ctrl-C stops")
        started = time.monotonic()
        while args.duration is None or time.monotonic() - started < args.duration:
            second = time.monotonic() + (min(1.0, args.duration - (time.monotonic() - started))
                                         if args.duration else 1.0)
            while time.monotonic() < second:  # events (program changes, MIDI learn) are handled ten times a second
                time.sleep(max(0.0, min(0.1, second - time.monotonic())))
                for event in engine.poll():
                    print(f"event: {event}")
            stats = engine.stats()
            peak = engine.meters()[-1, :, 0]  # the highest sample since the last line (every block counts)
            level = " ".join(f"{gain_to_db(float(p)):6.1f}" for p in peak)  # below -120 dBFS: -inf
            print(f"{stats.position / rate:7.1f} s  master peak {level} dBFS  xruns {stats.xruns}  "
                  f"load p50 {stats.load_p50:4.0%} p99 {stats.load_p99:4.0%} max {stats.load_max:4.0%}", flush=True)
            if not stats.running:
                print("rackhost: error: the audio stream stopped (the audio server or device went away)", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        takes = engine.stop()
        engine.close()
        for take in takes:
            print(f"wrote {take.dry_path} ({take.frames_written['dry']} frames) and {take.wet_path} "
                  f"({take.frames_written['wet']} frames)")
        dropped = engine.stats().dropped_frames
        if dropped:
            print(f"warning: {dropped} frames could not be written in time and are missing from the takes")
    return 0


# -- gui --------------------------------------------------------------------------


def _cmd_gui(args: argparse.Namespace) -> int:
    if args.screenshot:
        refuse_overwrite(args.screenshot, [args.session], option="--screenshot")
    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        raise RackhostError("no display to open the window on (DISPLAY is not set); "
                            "run it in a desktop session, or under xvfb-run for a virtual one")
    from rackhost.gui.app import run

    width, height = args.size
    run(args.session, screenshot=args.screenshot, frames=60 if args.screenshot else 0,
        start_engine=not args.no_engine, play=args.play, view=args.view, width=width, height=height)
    return 0


# -- demo -------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from rackhost.demo import run_demo

    run_demo(_folder(args.out, "--out"))
    return 0


def _folder(path: str, option: str, create: bool = True) -> Path:
    """``path`` as a folder to write into, created (parents too) if need be; refused if it is a file."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise _usage(f"{option} {path!r} is a file, not a folder; give a folder (it is created if need be)")
    if not create:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _usage(f"{option} {path!r}: cannot create the folder ({err.strerror}); "
                     f"give one you can write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _usage(f"{option} {path!r}: the folder is not writable; give one you can write to")
    return folder


# -- presets ----------------------------------------------------------------------


def _add_presets_parser(sub: argparse._SubParsersAction) -> None:
    presets = sub.add_parser("presets", help="list, show, save and manage presets")
    psub = presets.add_subparsers(dest="action", required=True)

    ls = psub.add_parser("list", help="factory and user presets")
    ls.add_argument("--stage")
    ls.add_argument("--tag")
    ls.add_argument("--search", help="text in the name or description")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_presets_list)

    show = psub.add_parser("show", help="one preset: metadata and every slot")
    show.add_argument("ref", metavar="STAGE/NAME", type=text("STAGE/NAME"))
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_cmd_presets_show)

    save = psub.add_parser("save", help="save a chain, a session track or a session's master as a user preset")
    save.add_argument("name")
    save.add_argument("--stage", required=True, help="tracking, mixing, mastering, or a stage of your own")
    save.add_argument("--chain", type=chain_spec, help="an inline chain, as for 'rackhost render --chain'")
    save.add_argument("--session", type=text("a session file"), help="take the chain from this session file")
    save.add_argument("--track", type=text("a track name"), help="with --session: this track's chain, gain and pan")
    save.add_argument("--master", action="store_true", help="with --session: the master chain and gain")
    save.add_argument("--description", default="")
    save.add_argument("--tag", action="append", default=[])
    save.add_argument("--author", default="")
    save.add_argument("--target-lufs", type=ranged(float, -70, 0, "LUFS"),
                      help="master presets: integrated loudness to render to")
    save.add_argument("--true-peak", type=ranged(float, -20, 0, "dBTP"), default=-1.0,
                      help="with --target-lufs: ceiling in dBTP (default -1)")
    save.add_argument("--overwrite", action="store_true", help="replace a user preset of the same name")
    save.add_argument("--with-midi", action="store_true",
                      help="with --track/--master: keep the session's MIDI mappings to it in the preset")
    save.set_defaults(func=_cmd_presets_save)

    for name, helptext in (("delete", "delete a user preset"), ("export", "write a preset to a file"),
                           ("rename", "rename a user preset"), ("duplicate", "copy a preset under a new name")):
        p = psub.add_parser(name, help=helptext)
        p.add_argument("ref", metavar="STAGE/NAME", type=text("STAGE/NAME"))
        if name == "export":
            p.add_argument("file", type=text("a file to write"))
            p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
        elif name in ("rename", "duplicate"):
            p.add_argument("new_name", type=text("a new name"))
        p.set_defaults(func=_cmd_presets_change)

    imp = psub.add_parser("import", help="add a preset file to your user presets")
    imp.add_argument("file", type=text("a preset file"))
    imp.add_argument("--overwrite", action="store_true", help="replace a user preset of the same name")
    imp.add_argument("--name", type=text("a preset name"),
                     help="import under this name (e.g. an exported factory preset, whose name is taken)")
    imp.set_defaults(func=_cmd_presets_change, ref=None)


def _cmd_presets_list(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    if args.stage and args.stage not in store.stages():
        raise RackhostError(f"--stage {args.stage!r}: no preset has this stage{_did_you_mean(args.stage, store.stages())}; "
                            f"stages: {', '.join(store.stages())}")
    entries = store.list(args.stage, args.tag, args.search)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    stage = None
    for entry in entries:
        if entry.stage != stage:
            stage = entry.stage
            print(f"{stage}:")
        origin = "factory" if entry.factory else "user"
        print(f"  {entry.ref:<28} {origin:<8} {entry.description}")
    if not entries:
        print("no presets match")
    for problem in store.problems():
        print(f"warning: skipped {problem}", file=sys.stderr)
    return 0


def _did_you_mean(given: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(given.lower(), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _cmd_presets_show(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    preset = PresetStore().load(args.ref)
    if args.json:
        print(json.dumps(preset.to_dict(), indent=2))
        return 0
    print(f"{preset.stage}/{preset.name} ({preset.kind} preset)")
    if preset.description:
        print(f"  {preset.description}")
    if preset.tags:
        print(f"  tags: {', '.join(preset.tags)}")
    if preset.loudness_target_lufs is not None:
        print(f"  loudness target: {preset.loudness_target_lufs:g} LUFS, true peak <= {preset.true_peak_ceiling_dbtp:g} dBTP")
    for i, slot in enumerate(preset.slots, 1):
        flags = "".join([" [bypassed]" if slot.bypass else "", f" [mix {slot.mix:.0%}]" if slot.mix < 1 else ""])
        values = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in slot.parameters.items())
        print(f"  {i}. {slot.plugin.get('name')}{flags}: {values or '(defaults)'}")
    return 0


def _cmd_presets_save(args: argparse.Namespace) -> int:
    from rackhost.chain import LoudnessTarget
    from rackhost.chain.spec import parse_chain
    from rackhost.presets import load_session
    from rackhost.presets.apply import preset_from
    from rackhost.presets.preset import RestoreReport
    from rackhost.presets.preset_midi import capture_mappings
    from rackhost.presets.store import PresetStore

    what: object
    if args.chain and args.session:
        raise RackhostError("give either --chain SPEC or --session FILE, not both")
    if args.track and args.master:
        raise RackhostError(f"give either --track {args.track} or --master, not both")
    if args.chain:
        what = parse_chain(args.chain)
    elif args.session and (args.track or args.master):
        session = load_session(args.session, RestoreReport())
        what = session.master if args.master else _session_track(session, args.track)
    else:
        raise RackhostError("say what to save: --chain SPEC, or --session FILE with --track NAME or --master")
    if args.target_lufs is not None:
        if not hasattr(what, "loudness_target"):
            raise RackhostError("--target-lufs is for master presets: use --session FILE --master")
        what.loudness_target = LoudnessTarget(args.target_lufs, args.true_peak)  # type: ignore[attr-defined]
    if args.with_midi and not (args.session and (args.track or args.master)):
        raise RackhostError("--with-midi keeps a session's mappings: use it with --session FILE --track NAME or --master")
    midi = {"midi_mappings": capture_mappings(session, what)} if args.with_midi else {}
    preset = preset_from(args.name, args.stage, what, description=args.description,  # type: ignore[arg-type]
                         tags=args.tag, author=args.author, **midi)
    entry = PresetStore().save(preset, overwrite=args.overwrite)
    print(f"saved {entry.ref} to {entry.path}")
    return 0


def _export(store: object, ref: str, path: Path, overwrite: bool) -> Path:
    """``presets export``: refuse a folder, a missing folder or an unwritable place in one line."""
    if path.is_dir():
        raise RackhostError(f"FILE {str(path)!r} is a folder; give a file name, e.g. {str(path / 'preset.json')!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists() and not overwrite:
        raise RackhostError(f"FILE {str(path)!r} exists; add --overwrite to replace it, or give another file name")
    if not folder.is_dir():
        raise RackhostError(f"FILE {str(path)!r}: folder {str(folder)!r} does not exist; create it first")
    try:
        return store.export(ref, path)  # type: ignore[attr-defined]
    except OSError as err:
        raise RackhostError(f"could not write {str(path)!r}: {err.strerror}; give a folder you can write to") from None


def _session_track(session: object, name: str) -> object:
    names = [t.name for t in session.tracks]  # type: ignore[attr-defined]
    if name not in names:
        raise RackhostError(f"--track {name!r}: the session has no such track; "
                            f"tracks: {', '.join(names) or '(none)'}")
    return session.track(name)  # type: ignore[attr-defined]


def _cmd_presets_change(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    if args.action == "export":
        refuse_overwrite(args.file, [store.find(args.ref).path], option="FILE")
    if args.action == "delete":
        entry = store.delete(args.ref)
        print(f"deleted {entry.ref} ({entry.path})")
    elif args.action == "export":
        print(f"exported {args.ref} to {_export(store, args.ref, Path(args.file), args.overwrite)}")
    elif args.action == "rename":
        print(f"renamed {args.ref} to {store.rename(args.ref, args.new_name).ref}")
    elif args.action == "duplicate":
        print(f"copied {args.ref} to {store.duplicate(args.ref, args.new_name).ref}")
    else:
        entry = store.import_file(Path(args.file), overwrite=args.overwrite, name=args.name)
        print(f"imported {entry.ref} to {entry.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
