"""Audio and MIDI file paths in a session file, kept as the user wrote them.

A relative path is relative to the session file's folder, taken as written:
symlinks are followed by the system when the file is opened, never resolved
into the saved path (``audio/kick.wav`` must not come back as
``../samples/kick.wav``). A path read from a file is saved back exactly as it
was written (absolute stays absolute) while the session stays in that folder;
saved elsewhere, a relative path is rewritten relative to the new folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from weakref import WeakKeyDictionary

# A loaded source or MIDI sequence -> (the path as written in the file, the folder it was relative to).
_WRITTEN: WeakKeyDictionary[object, tuple[str, Path]] = WeakKeyDictionary()


def session_folder(session_path: Path) -> Path:
    """The folder relative paths in ``session_path`` start from (absolute, symlinks kept)."""
    return Path(os.path.abspath(session_path)).parent


def opened_path(written: str, base: Path) -> Path:
    """The file a path written in a session (in folder ``base``) names; ``..`` is left for the system."""
    path = Path(written)
    return path if path.is_absolute() else base / path


def remember(loaded: object, written: str, base: Path) -> None:
    """Note how the file of ``loaded`` (a source, a MIDI sequence) was written, to save it back the same way."""
    _WRITTEN[loaded] = (written, base)


def path_ref(loaded: object, path: Path | str, base: Path | None) -> str:
    """How to write the file of ``loaded`` in a session saved in folder ``base`` (None: absolute)."""
    absolute = Path(os.path.abspath(path))
    if base is None:
        return str(absolute)
    written = _WRITTEN.get(loaded)
    # Kept as written while it still names the file: a renamed take's new name is written instead.
    if (written is not None and (Path(written[0]).is_absolute() or written[1] == base)
            and os.path.abspath(opened_path(*written)) == str(absolute)):
        return written[0]
    try:
        return os.path.relpath(absolute, base)
    except ValueError:  # another drive on Windows
        return str(absolute)
