"""Saving presets and sessions: JSON, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

from rackhost.atomic import write_text


def write_json_atomic(path: Path, data: object) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")
