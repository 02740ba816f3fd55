"""Replace a file atomically: write beside it, flush to disk, rename over it.

Every file rackhost writes goes through here: JSON documents (sessions,
presets, the scan cache, the plug-in folder list, the recent sessions) through
:func:`write_json`, which also insists on a ``format_version`` so every one of
them can be migrated or refused later (:mod:`rackhost.versions`); audio and
``.vstpreset`` files through :func:`replacing`. A crash or an error at any
point, the JSON encoder failing half-way included, leaves either the old file
or the new one, never half of either, and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

VERSION_KEY = "format_version"


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, it becomes ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        os.fchmod(fd, _new_file_mode())  # mkstemp makes it owner-only; keep an ordinary file's mode
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
        _sync_folder(folder)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``document`` as indented UTF-8 JSON; it must carry a whole-number ``format_version``.

    The document is encoded straight into the temporary file, so an encoder
    error (a value JSON cannot hold) leaves the old file as it was.
    """
    if not isinstance(document, Mapping):
        raise TypeError(f"write_json({str(path)!r}): a rackhost file is a JSON object, not {type(document).__name__}")
    version = document.get(VERSION_KEY)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"write_json({str(path)!r}): every file rackhost writes carries a whole-number "
                         f"{VERSION_KEY!r}, found {version!r}")
    with replacing(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself, so a power cut after it cannot bring the old file back."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its rename is flushed with the file
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (network, FUSE) refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
