"""Where the window opens: where it was when it last closed (kept in the user's config folder), else in the
middle of the screen; always on the screen as it is now (a window left on a monitor since unplugged comes back).

The place is a small versioned JSON file, ``window.json`` beside the recent sessions; a damaged one is
ignored (the window opens centred), a newer rackhost's is left as it is and not overwritten.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import dearpygui.dearpygui as dpg

from rackhost.atomic import VERSION_KEY, write_json
from rackhost.versions import NewerVersionError, VersionError, migrate

PLACE_FORMAT = "rackhost-window-place"
PLACE_VERSION = 1
DEFAULT_SIZE = (1280, 720)
SMALLEST = (640, 400)  # a remembered size under this is a mistake (a window shrunk to nothing), not a wish
MARGIN = 40  # room left at the screen's edges (panels, docks) when a window has to be made to fit


@dataclass(frozen=True)
class Place:
    x: int
    y: int
    width: int
    height: int


def place_file() -> Path:
    from rackhost.chain.discovery.trust import config_dir

    return config_dir() / "window.json"


def remembered() -> Place | None:
    """The place the window had when it last closed; None if there is none or it cannot be read."""
    path = place_file()
    try:
        doc = migrate(json.loads(path.read_text(encoding="utf-8")), path, kind="window place",
                      current=PLACE_VERSION, migrations={})
        place = Place(*(int(doc[k]) for k in ("x", "y", "width", "height")))
    except (OSError, ValueError, KeyError, TypeError, VersionError):  # NewerVersionError is a VersionError
        return None
    return place if place.width >= SMALLEST[0] and place.height >= SMALLEST[1] else None


def remember(place: Place) -> None:
    """Keep ``place`` for the next start; a newer rackhost's file is left alone."""
    path = place_file()
    try:
        migrate(json.loads(path.read_text(encoding="utf-8")), path, kind="window place", current=PLACE_VERSION,
                migrations={})
    except NewerVersionError:
        return
    except (OSError, ValueError, VersionError):
        pass  # none yet, or damaged: written anew
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"format": PLACE_FORMAT, VERSION_KEY: PLACE_VERSION, "x": place.x, "y": place.y,
                      "width": place.width, "height": place.height})


def screen_size() -> tuple[int, int] | None:
    """The screen's size in pixels, asked of Tk (Dear PyGui does not say); None where Tk or a display is missing.

    Not on macOS: Tk and the viewport's GLFW would both claim the Cocoa application of one process."""
    if sys.platform == "darwin":
        return None
    try:
        import tkinter

        root = tkinter.Tk()
    except Exception:  # noqa: BLE001 - ImportError without Tk, TclError without a display: the size is unknown
        return None
    try:
        root.withdraw()
        return int(root.winfo_screenwidth()), int(root.winfo_screenheight())
    finally:
        root.destroy()


def opening_place(size: tuple[int, int] | None, last: Place | None,
                  screen: tuple[int, int] | None) -> Place:
    """Where to open: ``last`` (its size too unless ``size`` was asked for), else centred on ``screen``; made to
    fit the screen in either case. With no screen known, ``last`` as it was or the top left corner's margin."""
    width, height = size or ((last.width, last.height) if last else DEFAULT_SIZE)
    if screen is None:
        return Place(last.x, last.y, width, height) if last else Place(MARGIN, MARGIN, width, height)
    screen_w, screen_h = screen
    if size is None:  # never larger than the screen unless asked to be
        width, height = min(width, max(SMALLEST[0], screen_w - MARGIN)), min(height, max(SMALLEST[1],
                                                                                     screen_h - MARGIN))
    if last is not None:
        x, y = last.x, last.y
    else:
        x, y = (screen_w - width) // 2, (screen_h - height) // 2
    # Kept on the screen: at least the top left part, title bar included, in view.
    x = min(max(0, x), max(0, screen_w - width))
    y = min(max(0, y), max(0, screen_h - height))
    return Place(x, y, width, height)


def viewport_place() -> Place:
    """Where the viewport is now, and its size."""
    x, y = dpg.get_viewport_pos()
    return Place(int(x), int(y), int(dpg.get_viewport_width()), int(dpg.get_viewport_height()))
