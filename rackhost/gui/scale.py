"""How big the window draws: text and sizes grow with a big window, as a desktop's display scaling does.

Up to 1920x1080 everything is drawn at 1x, in Dear PyGui's own font (ProggyClean, drawn for 13 px and crisp
only there). A bigger window gets a factor (2560x1440: 4/3, 3840x2160: 2) and a TrueType font, DejaVu Sans Mono
(Debian's fonts-dejavu-core, which ``make setup`` installs), loaded at that factor's pixel height: its glyphs
are drawn at their size, not a small bitmap stretched. Monospaced like ProggyClean, so a label's width is
still its characters times one advance (:data:`rackhost.gui.text.CHAR`, scaled).

The views multiply their pixel sizes by the factor (:func:`px`) when they build; the window builds its strips
again, with the theme's paddings and the font, when the factor changes (:meth:`Scale.fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dearpygui.dearpygui as dpg

BASE = (1920, 1080)  # the window size drawn at 1x; a factor is how many times it fits (the smaller way)
STEPS = (1.0, 1.25, 4 / 3, 1.5, 1.75, 2.0)
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
FONT_PIXELS = 13  # the built-in font's height: a step's font is this times the step, rounded


def factor_for(width: int, height: int) -> float:
    """The largest step a ``width`` x ``height`` window holds :data:`BASE` at (1 for anything smaller)."""
    fit = min(width / BASE[0], height / BASE[1])
    return max(step for step in STEPS if step <= fit + 1e-6) if fit >= 1 else 1.0


@dataclass
class Scale:
    """The factor the window draws at now, and the fonts of every step (per Dear PyGui context)."""

    factor: float = 1.0
    fonts: dict[float, int] = field(default_factory=dict)

    def load_fonts(self) -> None:
        """Load each step's font at its pixel height (a context's fonts: made again after a new context).
        Without the font file the window stays at 1x, text and sizes alike, rather than big boxes of small text."""
        self.fonts = {}
        self.factor = 1.0
        if not FONT_PATH.is_file():
            return
        with dpg.font_registry():
            for step in STEPS[1:]:
                self.fonts[step] = dpg.add_font(str(FONT_PATH), round(FONT_PIXELS * step))

    def fit(self, width: int, height: int) -> bool:
        """Draw at the factor a ``width`` x ``height`` window gets, its font bound; True if that changed it
        (the caller then builds its views again)."""
        factor = factor_for(width, height) if self.fonts else 1.0
        if factor == self.factor:
            return False
        self.factor = factor
        dpg.bind_font(self.fonts.get(factor, 0))  # 0: Dear PyGui's own font again
        return True

    @property
    def font_pixels(self) -> int:
        """The height of the text the window draws now, in pixels."""
        return round(FONT_PIXELS * self.factor)


SCALE = Scale()


def px(pixels: float) -> int:
    """A size given for 1x, at the window's factor now."""
    return round(pixels * SCALE.factor)
