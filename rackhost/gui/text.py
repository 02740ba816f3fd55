"""Text cut to the room it has, one rule for the whole window: a cut label always ends in ``..``, so nobody
takes a clipped name for the whole one (the item's tooltip, where it has one, gives it whole).

Dear PyGui clips a label, a list entry or a combo's text at the item's edge without a mark; every view that
shows a name of unknown length (a track, a plug-in, a file, an undo step) cuts it here first.
"""

from __future__ import annotations

from rackhost.gui.scale import px

CHAR = 7  # the built-in font's advance at 1x (it is monospaced): px(CHAR) pixels a character now
ELLIPSIS = ".."  # two dots: the built-in font has no "…", and a narrow strip cannot spare a third


def cut(label: str, width: float) -> str:
    """``label`` cut to fit ``width`` pixels, ending in ``..`` when it was."""
    return shorten(label, max(3, int(width) // px(CHAR) - 1))


def shorten(label: str, room: int) -> str:
    """``label`` in ``room`` characters at most, ending in ``..`` when it was cut (what :func:`cut` does to a
    width; the status line, which wraps, asks for a length)."""
    return label if len(label) <= room else label[: max(0, room - len(ELLIPSIS))].rstrip() + ELLIPSIS
