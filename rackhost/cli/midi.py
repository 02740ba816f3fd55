"""The MIDI parts of the ``rackhost`` command: ``render --midi`` and ``rackhost midi ports``.

Errors are :class:`RackhostError` subclasses, which the CLI prints as one line (exit 2).

``rackhost midi list|map|unmap|program|learn`` edit a session's MIDI mappings and program map.
A target is written ``OWNER:WHAT``: OWNER is a track or bus name or ``master``; WHAT is
``gain``, ``pan``, ``mute``, ``send:BUS`` (a send's level), or ``SLOT.PARAMETER`` with SLOT
a slot index, a plug-in name (found inside split branches too) or a path into a split
(``1/0/0``: slot 0 of branch 0 of the split at slot 1) (``vox:ZamComp.threshold_db``,
``vox:0.ratio``, ``drums:send:reverb``, ``master:gain``).
A controller is ``[CHANNEL:]CC[/LSB]`` (``7``, ``2:74``, ``1:1/33`` for a 14-bit pair).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rackhost.cli.args import ranged, text
from rackhost.errors import MidiMappingError, RackhostError, SlotPathError


def add_render_midi_arguments(render: argparse.ArgumentParser) -> None:
    render.add_argument("--midi", action="append", default=[], metavar="[TRACK=]FILE.mid", type=text("a MIDI file"),
                        help="play a MIDI file on the session's instrument tracks (each takes the notes of its "
                             "MIDI channel, or all of them); TRACK=FILE gives a file to one track; repeatable")
    render.add_argument("--instrument", metavar="PLUGIN", type=text("an instrument plug-in"),
                        help="without INPUT: render --midi through this instrument plug-in (e.g. Kars) and --chain")


def assign_midi(session: object, specs: list[str]) -> list[str]:
    """Give the session's instrument tracks their ``--midi`` files; returns notes for the user.

    ``FILE.mid`` goes to every instrument track; ``TRACK=FILE.mid`` to that
    track only (and wins over a bare file). A track keeps its session's own
    MIDI file when no option names it.
    """
    from rackhost.chain.midi import read_midi_file

    instruments = [t for t in session.tracks if t.instrument is not None]  # type: ignore[attr-defined]
    if specs and not instruments:
        raise RackhostError("--midi needs an instrument track: this session has none (add a track with an "
                            "\"instrument\", or use --instrument PLUGIN without --session)")
    every, named = None, {}
    for spec in specs:
        track_name, sep, file = spec.partition("=")
        if sep and not Path(spec).exists():
            if track_name not in {t.name for t in session.tracks}:  # type: ignore[attr-defined]
                raise RackhostError(f"--midi {spec!r}: no track named {track_name!r}; instrument tracks: "
                                    f"{', '.join(t.name for t in instruments)}")
            named[track_name] = read_midi_file(file)
        else:
            if every is not None:
                raise RackhostError("give one --midi FILE for every instrument track, or TRACK=FILE per track")
            every = read_midi_file(spec)
    notes = []
    for track in instruments:
        sequence = named.get(track.name, every)
        if sequence is not None:
            track.midi = sequence
            channel = "every channel" if track.midi_channel is None else f"channel {track.midi_channel}"
            notes.append(f"track {track.name!r}: plays {sequence.name} ({channel})")
        elif track.midi is None:
            notes.append(f"track {track.name!r}: no MIDI file, so its instrument stays silent")
    for name in named:
        if name not in {t.name for t in instruments}:
            raise RackhostError(f"--midi {name}=...: track {name!r} has no instrument, so it cannot play MIDI")
    return notes


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``midi``: ports, and a session's mappings."""
    parser = subparsers.add_parser("midi", help="MIDI: ports, controller mappings, program map, learn",
                                   description="MIDI through JACK MIDI or the platform's MIDI system.")
    sub = parser.add_subparsers(dest="midi_command", required=True)
    ports = sub.add_parser("ports", help="list MIDI inputs and outputs",
                           description="List the MIDI ports rackhost can listen to (inputs) and send to (outputs). "
                                       "JACK MIDI is used when a JACK server runs; $RACKHOST_MIDI_API forces one.")
    ports.add_argument("--json", action="store_true", help="print the ports as JSON")
    ports.set_defaults(func=cmd_midi_ports)
    add_mapping_commands(sub)
    return parser


def cmd_midi_ports(args: argparse.Namespace) -> int:
    import json

    from rackhost.live.midi_ports import VIRTUAL_PREFIX, list_ports

    ports = list_ports()
    if args.json:
        print(json.dumps(ports.to_dict(), indent=2))
        return 0
    print(f"MIDI system: {ports.api}")
    for title, names in (("inputs (rackhost listens to these)", ports.inputs),
                         ("outputs (rackhost can send to these)", ports.outputs)):
        print(f"{title}:")
        for name in names:
            print(f"  {name}")
        if not names:
            print("  (none)")
    print(f"'rackhost live --midi-in NAME' listens to an input; '--midi-in {VIRTUAL_PREFIX}NAME' opens a port of "
          f"rackhost's own for others to connect to")
    return 0


def live_midi(session: object, inputs: list[str], output: str | None = None) -> object:
    """The live engine's MIDI for ``rackhost live --midi-in/--midi-out``: None without either."""
    if not inputs and output is None:
        return None
    from rackhost.live.midi_input import MidiSetup
    from rackhost.presets.midi_programs import recall_preset

    return MidiSetup(tuple(inputs), output, program_loader=recall_preset).make(session)  # type: ignore[arg-type]


SESSION = text("a session file")
TARGET = text("a target, OWNER:WHAT")
RANGE_END = ranged(float, -1e9, 1e9, "")  # any finite number; the target's own range is checked once it is known


def add_mapping_commands(sub: argparse._SubParsersAction) -> None:
    listing = sub.add_parser("list", help="a session's MIDI mappings and program map")
    listing.add_argument("session", type=SESSION)
    listing.set_defaults(func=cmd_midi_list)

    mapping = sub.add_parser("map", help="map a controller to a parameter, or a track's gain/pan/mute")
    mapping.add_argument("session", type=SESSION)
    mapping.add_argument("target", type=TARGET, help="OWNER:WHAT, e.g. vox:ZamComp.threshold_db, vox:pan, drums:send:reverb, master:gain")
    mapping.add_argument("--cc", required=True, type=text("a controller, [CHANNEL:]CC[/LSB]"), help="[CHANNEL:]CC[/LSB], e.g. 7, 2:74, 1:1/33 (14-bit)")
    mapping.add_argument("--range", nargs=2, type=RANGE_END, metavar=("LOW", "HIGH"),
                         help="the values the controller's ends give (default: the target's own range)")
    mapping.add_argument("--curve", default="linear", choices=("linear", "log", "exp"))
    mapping.set_defaults(func=cmd_midi_map)

    unmap = sub.add_parser("unmap", help="remove the mappings to a target")
    unmap.add_argument("session", type=SESSION)
    unmap.add_argument("target", type=TARGET)
    unmap.set_defaults(func=cmd_midi_unmap)

    program = sub.add_parser("program", help="a program change recalls a preset on a track or the master")
    program.add_argument("session", type=SESSION)
    program.add_argument("--channel", type=ranged(int, 1, 16, ""), default=1,
                         help="MIDI channel 1..16 (default 1)")
    program.add_argument("--program", type=ranged(int, 0, 127, ""), required=True, help="program number 0..127")
    program.add_argument("--preset", type=text("STAGE/NAME"), help="STAGE/NAME to recall (omit with --remove)")
    program.add_argument("--track", type=text("a track name"), help="the track to load it onto (default: the master)")
    program.add_argument("--remove", action="store_true", help="remove this program's entry instead")
    program.set_defaults(func=cmd_midi_program)

    learn = sub.add_parser("learn", help="bind the next controller that moves on a MIDI input to a target")
    learn.add_argument("session", type=SESSION)
    learn.add_argument("target", type=TARGET)
    learn.add_argument("--midi-in", required=True, metavar="PORT", type=text("a MIDI input"),
                       help="the input to listen to")
    learn.add_argument("--range", nargs=2, type=RANGE_END, metavar=("LOW", "HIGH"))
    learn.add_argument("--curve", default="linear", choices=("linear", "log", "exp"))
    learn.add_argument("--fourteen-bit", action="store_true", help="a CC 0..31 binds with its LSB (CC + 32)")
    learn.add_argument("--timeout", type=ranged(float, 0.1, 3600, "seconds"), default=30.0, help="seconds to wait (default 30)")
    learn.set_defaults(func=cmd_midi_learn)


def parse_target(text: str, session: Any) -> Any:
    """``OWNER:WHAT``: OWNER a track, a bus or ``master``; WHAT ``gain``, ``pan``, ``mute``, ``send:BUS`` or
    ``SLOT.PARAMETER`` (SLOT a plug-in's name or index, or a path into a split: ``1/0/0`` is slot 0 of branch 0
    of the split at slot 1; a name is found inside splits too)."""
    from rackhost.chain.chain import parse_slot_path, path_of
    from rackhost.chain.midi import MappingTarget

    owner, sep, what = text.partition(":")
    if not sep or not what:
        raise MidiMappingError(f"target {text!r}: write OWNER:WHAT, e.g. vox:ZamComp.threshold_db or master:gain")
    track = bus = None
    tracks, busses = [t.name for t in session.tracks], [b.name for b in session.busses]
    if owner == "master":
        strip = session.master
    elif owner in tracks:
        track = tracks.index(owner)
        strip = session.tracks[track]
    elif owner in busses:
        bus = busses.index(owner)
        strip = session.busses[bus]
    else:
        raise MidiMappingError(f"target {text!r}: no track or bus {owner!r}; tracks: {', '.join(tracks) or '(none)'}"
                               f"; busses: {', '.join(busses) or '(none)'}")
    if what in ("gain", "pan", "mute"):
        return MappingTarget(track, what, bus=bus)  # type: ignore[arg-type]
    if what.startswith("send:"):
        return MappingTarget(track, "send", bus=bus, send=what[len("send:"):])
    slot, dot, parameter = what.rpartition(".")
    if not dot or not slot:
        raise MidiMappingError(f"target {text!r}: after the colon give gain, pan, mute, send:BUS or SLOT.PARAMETER")
    chain = strip.chain
    if "/" in slot:
        try:
            path = parse_slot_path(slot)
        except SlotPathError as err:
            raise MidiMappingError(f"target {text!r}: {err}") from None
    else:
        try:
            path = (chain.index(int(slot) if slot.isdigit() else slot),)
        except (KeyError, IndexError) as err:
            inner = next((s for s in chain.plugin_slots() if s.name == slot), None)  # inside a split
            if inner is None:
                raise MidiMappingError(f"target {text!r}: {str(err).strip(chr(34) + chr(39))}") from None
            path = path_of(chain, inner)  # type: ignore[assignment]
    return MappingTarget(track, "parameter", path[0], parameter, bus=bus, path=path[1:])


def parse_cc(text: str) -> tuple[int, int, int | None]:
    channel, sep, rest = text.partition(":")
    if not sep:
        channel, rest = "1", text
    controller, slash, lsb = rest.partition("/")
    try:
        return int(channel), int(controller), int(lsb) if slash else None
    except ValueError:
        raise MidiMappingError(f"--cc {text!r}: write [CHANNEL:]CC[/LSB], e.g. 7, 2:74 or 1:1/33") from None


def _load(path: str) -> Any:
    from rackhost.presets import load_session

    return load_session(path)


def _save(session: Any, path: str) -> None:
    from rackhost.presets import save_session

    try:
        save_session(session, path)
    except OSError as err:  # e.g. a read-only session file's folder
        raise RackhostError(f"could not write session file {path!r}: {err.strerror}; nothing was changed") from None


def cmd_midi_list(args: argparse.Namespace) -> int:
    session = _load(args.session)
    midi = session.midi
    print("mappings:" if midi.mappings else "mappings: (none)")
    for i, mapping in enumerate(midi.mappings):
        lo, hi = mapping.minimum, mapping.maximum
        scale = f", {lo:g}..{hi:g}" if lo is not None and hi is not None else ""
        print(f"  {i}  {mapping.describe(session)} ({mapping.curve}{scale})")
    print("program map:" if midi.programs else "program map: (none)")
    for entry in midi.programs:
        where = "master" if entry.track is None else f"track {session.tracks[entry.track].name!r}"
        print(f"  channel {entry.channel} program {entry.program} -> {entry.preset} on {where}")
    return 0


def cmd_midi_map(args: argparse.Namespace) -> int:
    from rackhost.chain.midi import CCMapping
    from rackhost.chain.midi.mapping import check_range, resolve

    session = _load(args.session)
    channel, controller, lsb = parse_cc(args.cc)
    low, high = args.range or (None, None)
    target = parse_target(args.target, session)
    check_range(target, low, high, session)
    mapping = CCMapping(channel, controller, target, low, high, args.curve, lsb)
    resolve(mapping, session)  # a clear error now rather than a silent controller later
    session.midi.add(mapping)
    _save(session, args.session)
    print(f"mapped {mapping.describe(session)}")
    return 0


def cmd_midi_unmap(args: argparse.Namespace) -> int:
    session = _load(args.session)
    gone = session.midi.remove_target(parse_target(args.target, session))
    if not gone:
        raise RackhostError(f"nothing is mapped to {args.target!r}; 'rackhost midi list {args.session}' shows what is")
    _save(session, args.session)
    for mapping in gone:
        print(f"unmapped {mapping.describe(session)}")
    return 0


def cmd_midi_program(args: argparse.Namespace) -> int:
    session = _load(args.session)
    track = None
    if args.track is not None:
        names = [t.name for t in session.tracks]
        if args.track not in names:
            raise RackhostError(f"no track {args.track!r}; tracks: {', '.join(names) or '(none)'}")
        track = names.index(args.track)
    if args.remove:
        if not session.midi.remove_program(args.channel, args.program, track):
            raise RackhostError(f"program {args.program} on channel {args.channel} is not in the program map")
        print(f"removed program {args.program} on channel {args.channel}")
    else:
        if not args.preset:
            raise RackhostError("give --preset STAGE/NAME (or --remove)")
        from rackhost.presets.store import PresetStore

        PresetStore().load(args.preset)  # refuse a preset that does not exist now, not at the gig
        entry = session.midi.set_program(args.channel, args.program, track, args.preset)
        print(f"program {entry.program} on channel {entry.channel} recalls {entry.preset} on "
              f"{'the master' if track is None else repr(args.track)}")
    _save(session, args.session)
    return 0


def cmd_midi_learn(args: argparse.Namespace) -> int:
    from rackhost.chain.midi.mapping import check_range, resolve
    from rackhost.live.midi_input import LiveMidi

    session = _load(args.session)
    low, high = args.range or (None, None)
    target = parse_target(args.target, session)
    check_range(target, low, high, session)  # before anyone moves a controller
    session.midi.arm_learn(target, minimum=low, maximum=high, curve=args.curve, fourteen_bit=args.fourteen_bit)
    midi = LiveMidi(session, [args.midi_in])
    midi.open()
    print(f"move a controller on {args.midi_in} (waiting up to {args.timeout:g} s)...", flush=True)
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            while midi.inbox:
                _, data = midi.inbox.popleft()
                if data[0] & 0xF0 == 0xB0 and len(data) == 3:
                    mapping = session.midi.learn((data[0] & 0x0F) + 1, data[1])
                    resolve(mapping, session)
                    _save(session, args.session)
                    print(f"learned {mapping.describe(session)}")
                    return 0
            time.sleep(0.005)
    finally:
        midi.close()
    raise RackhostError(f"no controller moved on {args.midi_in} within {args.timeout:g} s; nothing was mapped")
