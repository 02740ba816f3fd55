"""Strip colours: a small palette that reads on the window's dark theme, and the default a new strip gets.

A colour is stored as ``#rrggbb``. A track or bus added without one takes the palette's colour at its place
(tracks from the first colour on, busses from the last one back), so a new session is not all grey and a
bus does not look like the track beside it.
"""

from __future__ import annotations

import re
from typing import Any

# (name, colour): light and saturated enough for a name band and a waveform on a near-black panel.
PALETTE: tuple[tuple[str, str], ...] = (
    ("blue", "#569cd6"), ("green", "#78c878"), ("orange", "#e6a046"), ("purple", "#c86ec8"),
    ("teal", "#5ac8c8"), ("yellow", "#dcc85a"), ("red", "#e66464"), ("violet", "#968ce6"),
    ("pink", "#e68cb4"), ("olive", "#a8b45a"), ("steel", "#8c9cb4"),
)
_HEX = re.compile(r"#[0-9a-f]{6}")


def check_color(owner: str, color: object) -> str | None:
    """``color`` as ``#rrggbb`` (lower case), or None (the default by place); anything else is refused."""
    if color is None:
        return None
    if isinstance(color, str) and _HEX.fullmatch(color.lower()):
        return color.lower()
    raise ValueError(f"colour of {owner} must be '#rrggbb' (e.g. {PALETTE[0][1]!r}); got {color!r}")


def default_color(index: int, bus: bool = False) -> str:
    """The colour a strip gets at ``index`` among the tracks (or, ``bus``, among the busses)."""
    return PALETTE[-1 - index % len(PALETTE) if bus else index % len(PALETTE)][1]


def rgb(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` as (r, g, b) 0..255."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def color_name(color: str) -> str:
    """The palette's name for ``color``, or the colour itself."""
    return next((name for name, value in PALETTE if value == color), color)


def shown_color(session: Any, strip: Any) -> str:
    """A track's or bus's colour; one made outside a session (no colour yet) shows the palette's at its place."""
    if strip.color is not None:
        return strip.color
    busses = list(session.busses)
    if any(b is strip for b in busses):
        return default_color(next(i for i, b in enumerate(busses) if b is strip), bus=True)
    return default_color(next((i for i, t in enumerate(session.tracks) if t is strip), 0))
