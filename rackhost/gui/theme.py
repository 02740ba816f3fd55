"""A dark theme that reads as an audio tool."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from rackhost.gui.scale import SCALE, px

BACKGROUND = (24, 26, 30)
PANEL = (34, 37, 43)
ACCENT = (86, 156, 214)
TEXT = (220, 222, 226)
MUTED = (140, 144, 152)
METER = (80, 200, 120)
CLIP = (230, 70, 60)
WARNING = (235, 170, 80)
CLIP_LIGHT: dict[str, int] = {}  # the clip light's looks, "off" and "on": made with the theme, per context
SELECTED: dict[str, int] = {}  # "slot": the look of the selected slot's name (Delete removes it)
_BANDS: dict[str, int] = {}  # '#rrggbb' -> the look of a strip's colour band and its swatch (per context)
MASTER_BAND = "#dcdee2"
DISABLED_TEXT = (96, 100, 108)
DISABLED_FRAME = (38, 41, 47)
# The kinds of control the window disables (Render's Cancel and Keep gain, a batch's typed target, a take's
# name while recording): Dear PyGui draws a disabled one exactly as an enabled one unless a theme says otherwise.
DISABLED_KINDS = (dpg.mvButton, dpg.mvInputText, dpg.mvInputFloat, dpg.mvInputInt, dpg.mvCombo, dpg.mvCheckbox,
                  dpg.mvSliderFloat, dpg.mvSliderInt)


def strip_theme() -> int:
    """Strips' rows packed closer than the window's (the fader gets the height): made once per context."""
    theme = _BANDS.get("strip")
    if theme is None or not dpg.does_item_exist(theme):
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, px(5), px(3))
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, px(4), px(2))
        _BANDS["strip"] = theme
    return theme


def band_theme(color: str) -> int:
    """The look of a button painted ``color`` (a strip's band, a swatch in its colour menu), dark text on it;
    made once per colour in this context (:func:`apply_theme` starts afresh)."""
    theme = _BANDS.get(color)
    if theme is None or not dpg.does_item_exist(theme):
        rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, rgb)
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, tuple(min(255, c + 25) for c in rgb))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, rgb)
                dpg.add_theme_color(dpg.mvThemeCol_Text, BACKGROUND)
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, px(2), 0)
                dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, px(2))
        _BANDS[color] = theme
    return theme


def _light(color: tuple[int, int, int]) -> int:
    with dpg.theme() as theme:
        with dpg.theme_component(dpg.mvButton):
            for part in (dpg.mvThemeCol_Button, dpg.mvThemeCol_ButtonHovered, dpg.mvThemeCol_ButtonActive):
                dpg.add_theme_color(part, color)
            dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, px(2))
            dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 0, 0)
    return theme


def apply_theme() -> int:
    """The window's theme, at the window's scale now (:mod:`rackhost.gui.scale`): made again when it changes."""
    with dpg.theme() as theme:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_WindowBg, BACKGROUND)
            dpg.add_theme_color(dpg.mvThemeCol_ChildBg, PANEL)
            dpg.add_theme_color(dpg.mvThemeCol_FrameBg, (46, 50, 58))
            # A see-through grab: a slider's value is written under it (a send's level) and stays readable.
            dpg.add_theme_color(dpg.mvThemeCol_SliderGrab, (*ACCENT, 110))
            dpg.add_theme_color(dpg.mvThemeCol_SliderGrabActive, (*ACCENT, 170))
            dpg.add_theme_color(dpg.mvThemeCol_CheckMark, ACCENT)
            dpg.add_theme_color(dpg.mvThemeCol_PlotHistogram, METER)
            dpg.add_theme_color(dpg.mvThemeCol_Text, TEXT)
            dpg.add_theme_color(dpg.mvThemeCol_Border, (60, 64, 72))
            dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, px(3))
            dpg.add_theme_style(dpg.mvStyleVar_ChildRounding, px(4))
            dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, px(6), px(5))
            if SCALE.factor != 1.0:  # Dear PyGui's own sizes (its defaults at 1x), grown with the text
                dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, px(8), px(8))
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, px(4), px(3))
                dpg.add_theme_style(dpg.mvStyleVar_ItemInnerSpacing, px(4), px(4))
                dpg.add_theme_style(dpg.mvStyleVar_ScrollbarSize, px(14))
                dpg.add_theme_style(dpg.mvStyleVar_GrabMinSize, px(12))
                dpg.add_theme_style(dpg.mvStyleVar_IndentSpacing, px(21))
        # Greyed out: a control that will not answer must not look as if it would (and then do nothing).
        for kind in DISABLED_KINDS:
            with dpg.theme_component(kind, enabled_state=False):
                dpg.add_theme_color(dpg.mvThemeCol_Text, DISABLED_TEXT)
                for part in (dpg.mvThemeCol_Button, dpg.mvThemeCol_ButtonHovered, dpg.mvThemeCol_ButtonActive,
                             dpg.mvThemeCol_FrameBg, dpg.mvThemeCol_FrameBgHovered, dpg.mvThemeCol_FrameBgActive):
                    dpg.add_theme_color(part, DISABLED_FRAME)
                dpg.add_theme_color(dpg.mvThemeCol_CheckMark, DISABLED_TEXT)
    dpg.bind_theme(theme)
    _BANDS.clear()
    CLIP_LIGHT.update(off=_light((58, 36, 36)), on=_light(CLIP))
    with dpg.theme() as selected:
        with dpg.theme_component(dpg.mvButton):
            dpg.add_theme_color(dpg.mvThemeCol_Button, (52, 88, 122))
    SELECTED.update(slot=selected)
    return theme
