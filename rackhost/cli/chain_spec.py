"""Inline chain descriptions, as typed on a command line.

    HighpassFilter(cutoff_frequency_hz=80); Compressor(threshold_db=-18, ratio=3); ZamCompX2

Each item is a plug-in (a pedalboard built-in, a VST3 by name, or a path to a
bundle) with optional keyword values. Two keys belong to the slot rather than
the plug-in: ``_mix`` (wet/dry, 0..1) and ``_bypass`` (true/false).
"""

from __future__ import annotations

import ast
import re

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.plugin import Plugin
from rackhost.errors import ChainSpecError

_ITEM = re.compile(r"^\s*(?P<name>[^()]+?)\s*(?:\((?P<args>.*)\))?\s*$", re.DOTALL)
SLOT_KEYS = ("_mix", "_bypass")


def split_items(spec: str) -> list[str]:
    """Split on ';' outside parentheses and quotes."""
    items, depth, quote, current = [], 0, "", []
    for ch in spec:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


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


def parse_chain(spec: str, *, allow_untrusted: bool = False) -> Chain:
    """Build a chain from ``spec``, loading each plug-in and setting its values."""
    chain = Chain()
    for item in split_items(spec):
        name, values = parse_item(item)
        mix = values.pop("_mix", 1.0)
        bypass = values.pop("_bypass", False)
        plugin = Plugin.create(name, allow_untrusted=allow_untrusted, **values)
        try:
            chain.add(Slot(plugin, bypass=bool(bypass), mix=mix))  # type: ignore[arg-type]
        except ValueError as err:
            raise ChainSpecError(str(err)) from None
    return chain
