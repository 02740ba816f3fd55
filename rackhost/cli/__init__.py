"""The ``rackhost`` command: one module per command group, each adding its own subcommand.

Errors a user can cause exit with status 2 and one line naming the problem and the fix.
"""

from __future__ import annotations

import argparse
import os
import sys

from rackhost import __version__
from rackhost.chain.teardown import free_plugins_quietly
from rackhost.cli import batch, compare, demo, devices, gui, live, midi, plugins, presets, render, scan, takes
from rackhost.cli.args import EXIT_USAGE, Parser
from rackhost.errors import RackhostError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rackhost", description="A plug-in host and effects rack.")
    parser.add_argument("--version", action="version", version=f"rackhost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    # The order --help lists them in.
    for group in (render, batch, compare, presets, plugins, scan, devices, midi, live, takes, gui, demo):
        group.add_parser(sub)
    return parser
