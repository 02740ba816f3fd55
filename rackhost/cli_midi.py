"""The MIDI parts of the ``rackhost`` command: ``render --midi`` and ``rackhost midi ports``.

Errors are :class:`RackhostError` subclasses, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rackhost.cli_args import text
from rackhost.errors import RackhostError


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


def add_midi_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``midi`` (ports, and a session's mappings: see :mod:`rackhost.cli_midi_map`)."""
    from rackhost.cli_midi_map import add_mapping_commands

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
