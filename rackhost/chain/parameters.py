"""What a plug-in parameter is: its range, unit, default, and whether a user may set it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

from rackhost.errors import ParameterValueError

ParameterValue = Union[float, bool, str]
ParameterType = Literal["float", "bool", "choice", "path"]
ParameterRole = Literal["control", "output"]

# DPF adds these to every plug-in for its own bookkeeping (they report the host's
# buffer size and rate back, or switch factory programs underneath the named
# values): never shown, stored, or set.
# A float parameter with at most this many steps is drawn as a switch or a list, not a slider.
MAX_SELECTOR_STEPS = 32

INTERNAL_PARAMETERS = frozenset(
    {"buffer_size_frames", "sample_rate_frames", "latency_frames", "current_program"}
)

# pedalboard does not expose VST3's read-only flag, so meters are recognised by
# name: writing to them does nothing and a preset must never store them.
OUTPUT_PARAMETER_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"gain_reduction(_\d+)?(_db)?$",
        r"^output_level(_db)?$",
        r"^output_(left|right|low|medium|high)_db$",
        r"^control_gain_db$",
        r"^(playback|final)_position$",
        r"(^|_)meter(_|$)",
    )
)


def is_internal_parameter(name: str) -> bool:
    return name in INTERNAL_PARAMETERS


def is_output_parameter(name: str) -> bool:
    return any(p.search(name) for p in OUTPUT_PARAMETER_PATTERNS)


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of a plug-in, described well enough to draw a control for it.

    ``minimum``/``maximum`` are in the parameter's own unit (dB, ms, Hz...);
    ``choices`` lists the allowed values of a ``choice`` parameter. ``steps`` lists
    the values a stepped ``float`` parameter takes, where the plug-in tells
    (VST3 step counts: a DPF switch such as ZamCompX2's ``sidechain`` is a float
    with the two steps 0 and 1); empty for a continuous one.
    """

    name: str
    type: ParameterType
    default: ParameterValue | None
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    role: ParameterRole = "control"
    choices: tuple[str, ...] = field(default=())
    # The values a float parameter can hold (sorted), where the plug-in has steps: pedalboard sets the
    # nearest one, so -18 is held as -18.000002 and 4 as 4.002. Empty: continuous, or not known.
    steps: tuple[float, ...] = field(default=(), compare=False, repr=False)

    @property
    def selector(self) -> tuple[float, ...]:
        """The steps of a switch (2) or a selector (up to :data:`MAX_SELECTOR_STEPS`), drawn as a
        checkbox or a list rather than a slider; empty for a parameter with finer steps or none."""
        return self.steps if 2 <= len(self.steps) <= MAX_SELECTOR_STEPS else ()

    @property
    def is_output(self) -> bool:
        return self.role == "output"

    def coerce(self, plugin: str, value: object) -> ParameterValue:
        """Check ``value`` for this parameter and return it in the type the plug-in takes."""
        if self.is_output:
            raise ParameterValueError(
                plugin, self.name, value, "this parameter is a read-only output (a meter) and cannot be set"
            )
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "on", "yes", "1", "false", "off", "no", "0"):
                return value.lower() in ("true", "on", "yes", "1")
            raise ParameterValueError(plugin, self.name, value, "expected true or false")
        if self.type == "choice":
            if isinstance(value, str):
                for choice in self.choices:
                    if choice.lower() == value.lower():
                        return choice
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                # A number picks a choice whose text is that number (e.g. "1/8" menus
                # named by value), else an index.
                for choice in self.choices:
                    try:
                        if float(choice) == float(value):
                            return choice
                    except ValueError:
                        pass
                if float(value).is_integer() and 0 <= int(value) < len(self.choices):
                    return self.choices[int(value)]
            raise ParameterValueError(plugin, self.name, value, f"expected one of {', '.join(self.choices)}")
        if self.type == "path":
            if isinstance(value, str) and value:
                return value
            raise ParameterValueError(plugin, self.name, value, "expected a file path")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterValueError(plugin, self.name, value, f"expected a number{self._range_text()}")
        number = float(value)
        if not math.isfinite(number):
            raise ParameterValueError(plugin, self.name, value, f"expected a finite number{self._range_text()}")
        # Allow for float rounding in values written out by a host and read back.
        slack = 1e-6 * max(1.0, abs(self.maximum or 0.0), abs(self.minimum or 0.0))
        if (self.minimum is not None and number < self.minimum - slack) or (
            self.maximum is not None and number > self.maximum + slack
        ):
            raise ParameterValueError(plugin, self.name, value, f"out of range{self._range_text()}")
        if self.minimum is not None:
            number = max(number, self.minimum)
        if self.maximum is not None:
            number = min(number, self.maximum)
        return number

    def rounded(self, value: ParameterValue) -> ParameterValue:
        """``value`` with no more digits than the parameter resolves, for files and the window.

        With steps: the decimals that tell its steps apart (-18.000002 -> -18.0 on
        ZamCompX2's 0.08 dB steps; 4.002 -> 4.0 on its ratio's 0.019 steps). A
        value held in single precision (built-ins): its shortest single-precision
        text (-18.299999237 -> -18.3). Otherwise: a millionth of the range.
        """
        if self.type != "float" or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        number = float(value)
        if not math.isfinite(number):
            return number
        if len(self.steps) > 1:
            return round(number, self.decimals) + 0.0  # + 0.0: never -0.0
        if float(np.float32(number)) == number:
            return float(str(np.float32(number))) + 0.0
        span = abs((self.maximum or 0.0) - (self.minimum or 0.0)) or 1.0
        return round(number, max(0, math.floor(-math.log10(span * 1e-6)))) + 0.0

    @property
    def decimals(self) -> int:
        """Decimals that tell a stepped parameter's steps apart (half a step is more than half the last digit)."""
        if self.type != "float" or len(self.steps) < 2:
            return 6
        gaps = [b - a for a, b in zip(self.steps, self.steps[1:]) if b > a]
        return min(6, max(0, math.floor(-math.log10(min(gaps))) + 1)) if gaps else 0

    @property
    def display_format(self) -> str:
        """A printf format showing a float parameter's value at the precision it is stored with."""
        unit = f" {self.unit}" if self.unit else ""
        if len(self.steps) > 1:
            return f"%.{self.decimals}f{unit}"
        return f"%.7g{unit}"  # seven significant digits: a single-precision value's shortest text

    def _range_text(self) -> str:
        if self.minimum is None or self.maximum is None:
            return ""
        unit = f" {self.unit}" if self.unit else ""
        return f" in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]{unit}"

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "type": self.type, "role": self.role, "default": self.default}
        if self.minimum is not None:
            out["minimum"] = self.minimum
            out["maximum"] = self.maximum
        if self.unit:
            out["unit"] = self.unit
        if self.choices:
            out["choices"] = list(self.choices)
        if self.selector:  # a fine grid (a DPF dB knob has ~1,000 steps) is not worth caching
            out["steps"] = list(self.selector)
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> ParameterInfo:
        """The inverse of :meth:`to_dict` (for descriptions cached by the scanner)."""
        return cls(
            doc["name"], doc["type"], doc.get("default"), doc.get("minimum"), doc.get("maximum"),
            doc.get("unit", ""), doc.get("role", "control"), tuple(doc.get("choices", ())),
            tuple(doc.get("steps", ())),
        )

    def describe(self) -> str:
        """One line for a terminal: name, range or choices, default."""
        if self.type == "choice":
            what = "one of " + ", ".join(self.choices)
        elif self.type == "bool":
            what = "true/false"
        elif self.type == "path":
            what = "file path"
        else:
            what = self._range_text().strip() or "number"
        default = "" if self.default is None else f" (default {_fmt(self.default)})"
        tag = " [output]" if self.is_output else ""
        return f"{self.name}: {what}{default}{tag}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
