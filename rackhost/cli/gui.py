"""``rackhost gui``: open the rack window."""

from __future__ import annotations

import argparse
import os
import sys

from rackhost.cli.args import refuse_overwrite, text, window_size
from rackhost.errors import RackhostError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    gui = sub.add_parser("gui", help="open the rack window (needs a display)")
    gui.add_argument("session", nargs="?", help="session file to open")
    gui.add_argument("--no-engine", action="store_true", help="do not start the live engine")
    gui.add_argument("--screenshot", metavar="PNG", type=text("a .png file"),
                     help="render a few frames, save a screenshot and exit")
    gui.add_argument("--play", action="store_true", help="start the transport once the engine runs")
    gui.add_argument("--view", choices=["presets", "render", "batch", "settings", "panel", "browser", "midi", "narrow",
                                         "no-history", "takes"],
                     help="open a view at start: the preset browser, render, batch, audio settings, the first slot's "
                          "parameter panel, the plug-in browser, the MIDI panel, narrow strips, the rack "
                          "without the History column, or the first track's takes")
    gui.add_argument("--size", type=window_size, metavar="WxH",
                     help="window size (default: the size it had when last closed, else 1280x720; a screenshot: "
                          "1280x720)")
    recovery = gui.add_mutually_exclusive_group()
    recovery.add_argument("--recover", dest="recover", action="store_const", const=True, default=None,
                          help="restore the changes autosaved before a crash without asking")
    recovery.add_argument("--discard-recovery", dest="recover", action="store_const", const=False,
                          help="throw the changes autosaved before a crash away without asking")
    gui.set_defaults(func=cmd_gui)
    return gui


def cmd_gui(args: argparse.Namespace) -> int:
    if args.screenshot:
        refuse_overwrite(args.screenshot, [args.session], option="--screenshot")
    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        raise RackhostError("no display to open the window on (DISPLAY is not set); "
                            "run it in a desktop session, or under xvfb-run for a virtual one")
    from rackhost.gui.app import run

    width, height = args.size or (None, None)  # none given: the size it had when last closed
    run(args.session, screenshot=args.screenshot, frames=60 if args.screenshot else 0,
        start_engine=not args.no_engine, play=args.play, view=args.view, width=width, height=height,
        recover=args.recover)
    return 0
