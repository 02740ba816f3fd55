"""What the ``rackhost`` command accepts: ranged numbers, non-empty text, and outputs that are not inputs.

Every numeric option's range lives in its ``type=`` function (:func:`ranged`), so
a value outside it is refused while the command line is read, before any plug-in
loads or any file is touched. :class:`Parser` turns every argparse complaint into
the one line ``rackhost: error: ...`` and exit status 2, like the errors the
commands raise themselves.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path
from typing import Callable, Iterable, NoReturn

from rackhost.errors import RackhostError

EXIT_USAGE = 2

# argparse's own complaints ("invalid choice: ...", "expected 2 arguments") read better after a colon;
# ours start with the value ("0 is outside 16..16384 frames") and read as "--block-size 0 is outside ...".
_ARGPARSE_OWN = re.compile(r"^(invalid |expected |ignored |not allowed )")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes are one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        found = re.match(r"argument ([^:]+): (.*)", message, re.DOTALL)
        if found:
            option, rest = found[1].split("/")[-1], found[2]
            message = f"{option}: {rest}" if _ARGPARSE_OWN.match(rest) else f"{option} {rest}"
        help_hint = "" if found else f" (see '{self.prog} --help')"  # "required", "unrecognized arguments"
        one_line = " ".join(message.split())
        self.exit(EXIT_USAGE, f"rackhost: error: {one_line}{help_hint}\n")


def ranged(kind: type, low: float, high: float, unit: str) -> Callable[[str], float]:
    """An argparse ``type=`` for an int or float between ``low`` and ``high`` (both included), finite."""
    span = f"{low:g}..{high:g}" + (f" {unit}" if unit else "")

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun} ({span})") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text} is outside {span}")
        return value

    convert.__name__ = f"{kind.__name__} in {span}"  # argparse names the type in its own messages
    return convert


def text(what: str) -> Callable[[str], str]:
    """An argparse ``type=`` that refuses empty (or blank) text: ``--record ''`` must not mean "no --record"."""

    def convert(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"{value!r} is empty: give {what}")
        return value

    convert.__name__ = what
    return convert


def chain_spec(value: str) -> str:
    """``--chain``: text with at least one plug-in in it (``''`` or ``';;'`` would silently render dry)."""
    from rackhost.cli.chain_spec import split_items

    if not split_items(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} names no plug-in: give at least one, e.g. \"Compressor(threshold_db=-18); Reverb\", "
            f"or leave --chain out")
    return value


def window_size(value: str) -> tuple[int, int]:
    """``--size WxH``, each side in a range a window can have."""
    width_text, sep, height_text = value.lower().partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r} is not WIDTHxHEIGHT, e.g. 1920x1080")
    try:
        width, height = int(width_text), int(height_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise argparse.ArgumentTypeError(f"{value} is outside 320x240..7680x4320 pixels")
    return width, height


def refuse_overwrite(output: str | Path, inputs: Iterable[str | Path | None], option: str = "-o") -> None:
    """Refuse an ``output`` that is one of ``inputs``: by path, through a symlink, or as a hard link.

    Writing it would replace what the command reads (a render's source, a session's track, the
    session file), and the atomic rename would do so without a trace.
    """
    out = Path(output)
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        if _same_file(out, source):
            suggestion = out.with_name(f"{out.stem}-out{out.suffix}")
            raise RackhostError(
                f"{option} {str(out)!r} is the input {str(source)!r}: writing it would replace what is read; "
                f"write to another file (e.g. {option} {str(suggestion)!r})")


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links; only when both exist
    except OSError:
        return False



# Shared by render and live: the engine's and a session file's own limits.
BLOCK_SIZE = ranged(int, 16, 16384, "frames")
SAMPLE_RATE = ranged(int, 8000, 384000, "Hz")


def usage(message: str) -> RackhostError:
    """A mistake in how a command was called: printed as one line, exit status 2."""
    return RackhostError(message)


def folder(path: str, option: str, create: bool = True) -> Path:
    """``path`` as a folder to write into, created (parents too) if need be; refused if it is a file."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise usage(f"{option} {path!r} is a file, not a folder; give a folder (it is created if need be)")
    if not create:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise usage(f"{option} {path!r}: cannot create the folder ({err.strerror}); "
                     f"give one you can write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise usage(f"{option} {path!r}: the folder is not writable; give one you can write to")
    return folder
