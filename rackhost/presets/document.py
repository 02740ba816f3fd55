"""Reading versioned JSON documents (presets, sessions) with errors that name the place.

Each file kind subclasses :class:`DocumentReader` and says how to word a
failure; the checks, the version handling and the JSON parsing are shared.
Every object in a document declares its keys once (:class:`Keys`), and the
reader refuses a key it does not know or a required key that is missing: a
misspelt ``"slots"`` or ``"gain"`` for ``"gain_db"`` would otherwise load
silently as if it were not there.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rackhost import versions
from rackhost.atomic import VERSION_KEY
from rackhost.errors import RackhostError
from rackhost.versions import Migration


@dataclass(frozen=True)
class Keys:
    """The keys one kind of object in a document may have; ``required`` ones must be there."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.required + self.optional

    def requiring(self, *keys: str) -> Keys:
        """These keys, with ``keys`` (optional here) required: an object whose needs depend on its kind."""
        return Keys(self.required + keys, tuple(k for k in self.optional if k not in keys))

    def problem(self, doc: dict) -> tuple[str, str] | None:
        """(the offending key, what is wrong with it), or None when the keys are right."""
        for key in doc:
            if key not in self.allowed:
                return key, f"unknown key {key!r}{did_you_mean(key, self.allowed)}; known keys here: " \
                            f"{', '.join(sorted(self.allowed))}"
        for key in self.required:
            if key not in doc:
                return key, f"missing key {key!r}, which is required here"
        return None


def did_you_mean(key: str, known: tuple[str, ...]) -> str:
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


class DocumentReader:
    kind = "file"  # "preset", "session format": used in version messages
    current_version = 1
    migrations: dict[int, Migration] = {}

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str) -> RackhostError:
        raise NotImplementedError

    def load_json(self, path: Path) -> Any:
        """The parsed file, or this kind's error for a missing, unreadable or non-JSON file."""
        try:
            text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, as some editors write, is fine
        except FileNotFoundError:
            raise self.fail("", "no such file; check the path") from None
        except (OSError, UnicodeDecodeError) as err:
            raise self.fail("", f"cannot be read ({err})") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise self.fail(f"line {err.lineno} column {err.colno}", f"not valid JSON ({err.msg})") from None
        except RecursionError:
            raise self.fail("", "nested too deeply to be a rackhost file") from None

    def versioned(self, doc: Any, keys: Keys) -> dict:
        """The top-level object, migrated to the current version, with its keys checked."""
        doc = self.expect(doc, dict, "")
        if VERSION_KEY not in doc:
            self.keys(doc, keys, "")  # names a misspelt "format_version" as such
        # A newer file may have keys this rackhost does not know: its version is checked first.
        return self.keys(self.migrate(doc), keys, "")

    def migrate(self, doc: dict) -> dict:
        """Upgrade an older document one version at a time; refuse a newer one (:mod:`rackhost.versions`)."""
        try:
            return versions.migrate(doc, self.source, kind=self.kind, current=self.current_version,
                                    migrations=self.migrations)
        except versions.VersionError as err:
            raise self.fail(VERSION_KEY, err.problem) from err

    def expect(self, value: Any, kind: type, where: str) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            wanted = {dict: "an object", list: "a list", str: "text"}.get(kind, kind.__name__)
            raise self.fail(where or "the top level", f"expected {wanted}, found {_show(value)}")
        return value

    def keys(self, doc: dict, keys: Keys, where: str) -> dict:
        """``doc`` itself, once its keys are the ones ``keys`` allows and requires."""
        found = keys.problem(doc)
        if found is not None:
            raise self.fail(_join(where, found[0]), found[1])
        return doc

    def text(self, doc: dict, key: str, where: str = "", default: str | None = None) -> str:
        return self.expect(doc.get(key, default), str, _join(where, key))

    def number(self, doc: dict, key: str, where: str, default: float) -> float:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(_join(where, key), f"expected a number, found {_show(value)}")
        return float(value)

    def optional_number(self, doc: dict, key: str, where: str = "") -> float | None:
        return None if doc.get(key) is None else self.number(doc, key, where, 0.0)

    def boolean(self, doc: dict, key: str, where: str, default: bool = False) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(_join(where, key), f"expected true or false, found {_show(value)}")
        return value


def _join(where: str, key: str) -> str:
    """The JSON path of ``key`` in the object at ``where``; a key that is not a plain name is quoted: ["a b"]."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{where}[{json.dumps(key)}]"
    return f"{where}.{key}" if where else key


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
