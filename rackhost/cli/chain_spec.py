"""Inline chain descriptions, as typed on a command line.

    HighpassFilter(cutoff_frequency_hz=80); Compressor(threshold_db=-18, ratio=3); ZamCompX2

Each item is a plug-in (a pedalboard built-in, a VST3 by name, or a path to a
bundle) with optional keyword values. Two keys belong to the slot rather than
the plug-in: ``_mix`` (wet/dry, 0..1) and ``_bypass`` (true/false).

An item in square brackets is a split slot: parallel branches separated by
``|``, each a chain of its own, summed at the split's output. ``@ dB`` after
a branch sets its level, and an empty branch is the dry path::

    HighpassFilter; [Compressor(threshold_db=-40, ratio=8) @ -6 | ]; Reverb

is parallel compression: the dry signal plus a crushed copy 6 dB down, then a
reverb. Branches may hold several plug-ins (``[Gain; Distortion @ -12 | Chorus]``)
and splits of their own; every branch is delayed to the latest one.
"""

from __future__ import annotations

import ast
import re

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.plugin import Plugin
from rackhost.chain.split import Branch, Split
from rackhost.errors import ChainSpecError

_ITEM = re.compile(r"^\s*(?P<name>[^()]+?)\s*(?:\((?P<args>.*)\))?\s*$", re.DOTALL)
SLOT_KEYS = ("_mix", "_bypass")


def split_items(spec: str) -> list[str]:
    """Split on ';' outside parentheses, square brackets and quotes."""
    return [item.strip() for item in _split_on(spec, ";") if item.strip()]


def _split_on(spec: str, separator: str) -> list[str]:
    """``spec`` cut at ``separator`` where it stands outside parentheses, square brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for ch in spec:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def parse_item(item: str) -> tuple[str, dict[str, object]]:
    """``'Compressor(ratio=3)'`` -> ``('Compressor', {'ratio': 3})``."""
    match = _ITEM.match(item)
    if not match:
        raise ChainSpecError(f"cannot read chain item {item!r}; write it as Name(parameter=value, ...)")
    name, args = match["name"].strip(), (match["args"] or "").strip()
    if "," in name and "/" not in name:  # "Compressor, Gain(...)": a comma where a slot ends
        raise ChainSpecError(f"cannot read chain item {item!r}: slots are separated by ';', not ',' "
                             f"(write \"{'; '.join(part.strip() for part in item.split(',', 1))}\")")
    if not args:
        return name, {}
    try:
        call = ast.parse(f"_({args})", mode="eval").body
    except SyntaxError:
        raise ChainSpecError(
            f"cannot read the values in {item!r}; write them as parameter=value separated by commas"
        ) from None
    assert isinstance(call, ast.Call)
    if call.args:
        raise ChainSpecError(f"values in {item!r} need names: write parameter=value, not just a value")
    values: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ChainSpecError(f"'**' is not allowed in {item!r}")
        if keyword.arg in values:  # Python would refuse it too; the last one must not win silently
            raise ChainSpecError(f"{keyword.arg!r} is given twice in {item!r}; give each parameter once")
        values[keyword.arg] = _literal(keyword.value, item)
    return name, values


def _literal(node: ast.expr, item: str) -> object:
    # Bare words are choices (LadderFilter(mode=LPF24)) or booleans (true/false).
    if isinstance(node, ast.Name):
        lowered = node.id.lower()
        return {"true": True, "false": False}.get(lowered, node.id)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ChainSpecError(f"value {ast.unparse(node)!r} in {item!r} is not a number, word or quoted text") from None


def parse_branches(item: str) -> list[tuple[str, float]]:
    """``'[Compressor @ -6 | ]'`` -> ``[('Compressor', -6.0), ('', 0.0)]``: each branch's chain text and level."""
    if not (item.startswith("[") and item.endswith("]")) or _closes_at(item) != len(item) - 1:
        raise ChainSpecError(f"cannot read split {item!r}; write it as [BRANCH | BRANCH], e.g. "
                             f"[Compressor @ -6 | ], with ';' between it and the next slot")
    branches = []
    for text in _split_on(item[1:-1], "|"):
        parts = _split_on(text, "@")
        if len(parts) > 2:
            raise ChainSpecError(f"a branch of {item!r} has two levels ({text.strip()!r}); give one, as @ -6")
        level = 0.0
        if len(parts) == 2:
            level_text = parts[1].strip()
            try:
                level = float(level_text.removesuffix("dB").removesuffix("db").strip())
            except ValueError:
                raise ChainSpecError(f"level {level_text!r} of a branch in {item!r} is not a number of dB; "
                                     f"write it as @ -6") from None
        branches.append((parts[0].strip(), level))
    if len(branches) < 2:
        raise ChainSpecError(f"split {item!r} has one branch; separate two or more with '|' "
                             f"(an empty branch is the dry path: [Compressor @ -6 | ])")
    return branches


def _closes_at(item: str) -> int:
    """Where the bracket opening ``item`` closes (-1: never), outside parentheses and quotes."""
    depth, quote = 0, ""
    for i, ch in enumerate(item):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def parse_chain(spec: str, *, allow_untrusted: bool = False) -> Chain:
    """Build a chain from ``spec``, loading each plug-in and setting its values (splits: see the module doc)."""
    chain = Chain()
    for item in split_items(spec):
        if item.startswith("[") or item.endswith("]"):
            branches = [Branch(parse_chain(text, allow_untrusted=allow_untrusted), _level(level, item))
                        for text, level in parse_branches(item)]
            chain.add(Split(branches))
            continue
        name, values = parse_item(item)
        mix = values.pop("_mix", 1.0)
        bypass = values.pop("_bypass", False)
        plugin = Plugin.create(name, allow_untrusted=allow_untrusted, **values)
        try:
            chain.add(Slot(plugin, bypass=bool(bypass), mix=mix))  # type: ignore[arg-type]
        except ValueError as err:
            raise ChainSpecError(str(err)) from None
    return chain


def _level(level_db: float, item: str) -> float:
    from rackhost.chain.split import check_branch_level

    try:
        return check_branch_level(level_db)
    except ValueError as err:
        raise ChainSpecError(f"in {item!r}: {err}") from None
