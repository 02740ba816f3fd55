"""The shoot-out's ``report.html``: one self-contained page, a table of measurements and a spectrum per candidate.

The pictures are inline SVG drawn here (no plotting library): each candidate's
long-term spectrum over the input's, both at matched loudness, on a log
frequency axis.
"""

from __future__ import annotations

import html
import math

import numpy as np

from rackhost.chain.spectrum import Spectrum, db_span

_WIDTH, _HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 28  # margins for the axis labels
_FREQUENCY_TICKS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
_INPUT_COLOUR, _CANDIDATE_COLOUR = "#8a8a8a", "#d9480f"

_COLUMNS = (  # (key in a measurement, heading, unit)
    ("integrated_lufs", "Integrated", "LUFS"),
    ("short_term_max_lufs", "Short-term max", "LUFS"),
    ("true_peak_dbtp", "True peak", "dBTP"),
    ("crest_factor_db", "Crest factor", "dB"),
    ("loudness_range_lu", "Loudness range", "LU"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.3em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
.note { color: #7a4b00; }
svg.spectrum { display: block; margin: 0.5em 0 2em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


def report_html(report: dict, spectra: dict[str, Spectrum]) -> str:
    """The page for ``report`` (a shoot-out's report.json) with ``spectra`` by label (the input's under "input")."""
    sides = report["sides"]
    rows = "\n".join(_row(side) for side in sides)
    headings = "".join(f"<th>{name}<br>{unit}</th>" for _, name, unit in _COLUMNS)
    notes = "".join(f'<li class="note">{html.escape(note)}</li>' for note in report["notes"])
    reference = spectra[sides[0]["label"]]
    pictures = "\n".join(
        f"<h3>{html.escape(side['label'])}: <code>{html.escape(side['chain'])}</code></h3>\n"
        f"{spectrum_svg(reference, spectra[side['label']], sides[0]['label'], side['label'])}"
        for side in sides[1:]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rackhost compare: {html.escape(report['input'])}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Compare: {html.escape(report['input'])}</h1>
<p>{html.escape(report['matching'])}. Every file in this folder plays at that loudness, lined up with the input
sample for sample, so what differs between them is the sound of the chain, not its level.</p>
{f'<ul>{notes}</ul>' if notes else ''}
<h2>Measurements</h2>
<p>As rendered, before matching; the gain is what each side needed to match.</p>
<table>
<tr><th>Side</th><th>Chain</th><th>Gain<br>dB</th>{headings}</tr>
{rows}
</table>
<h2>Spectra at matched loudness</h2>
<p>Long-term average spectrum (Welch, Hann, {report['sample_rate']} Hz), in log bands;
<span style="color:{_INPUT_COLOUR}">input</span> against
<span style="color:{_CANDIDATE_COLOUR}">the candidate</span>.</p>
{pictures}
</body></html>
"""


def _row(side: dict) -> str:
    measured = side["measured"] or {}
    cells = "".join(f"<td>{_number(measured.get(key))}</td>" for key, _, _ in _COLUMNS)
    return (f"<tr><td>{html.escape(side['label'])}</td><td><code>{html.escape(side['chain'])}</code></td>"
            f"<td>{side['gain_db']:+.2f}</td>{cells}</tr>")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def spectrum_svg(reference: Spectrum, candidate: Spectrum, reference_label: str, candidate_label: str) -> str:
    """An inline SVG of ``candidate`` over ``reference``: log frequency across, dB up."""
    low_hz = float(min(reference.frequencies_hz[0], candidate.frequencies_hz[0]))
    high_hz = float(max(reference.frequencies_hz[-1], candidate.frequencies_hz[-1]))
    low_db, high_db = db_span(reference, candidate)
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(hz: float) -> float:
        return _LEFT + plot_w * math.log(hz / low_hz) / math.log(high_hz / low_hz)

    def y(db: float) -> float:
        return _TOP + plot_h * (high_db - min(max(db, low_db), high_db)) / (high_db - low_db)

    def line(spectrum: Spectrum, colour: str) -> str:
        points = " ".join(f"{x(f):.1f},{y(d):.1f}" for f, d in zip(spectrum.frequencies_hz, spectrum.level_db))
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    grid = []
    for hz in _FREQUENCY_TICKS:
        if low_hz <= hz <= high_hz:
            label = f"{hz // 1000}k" if hz >= 1000 else str(hz)
            grid.append(f'<line x1="{x(hz):.1f}" y1="{_TOP}" x2="{x(hz):.1f}" y2="{_TOP + plot_h}" stroke="#e4e4e4"/>'
                        f'<text x="{x(hz):.1f}" y="{_HEIGHT - 10}" text-anchor="middle">{label}</text>')
    for db in np.arange(low_db, high_db + 1, 10.0):
        grid.append(f'<line x1="{_LEFT}" y1="{y(db):.1f}" x2="{_LEFT + plot_w}" y2="{y(db):.1f}" stroke="#e4e4e4"/>'
                    f'<text x="{_LEFT - 6}" y="{y(db) + 4:.1f}" text-anchor="end">{db:.0f}</text>')
    title = f"Spectrum of {candidate_label} against {reference_label}, at matched loudness"
    return (
        f'<svg class="spectrum" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" font-family="sans-serif" font-size="11" fill="#444" '
        f'role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#bbb"/>'
        + "".join(grid)
        + f'<text x="{_LEFT + plot_w - 4}" y="{_TOP + 14}" text-anchor="end">Hz across, dB up</text>'
        + line(reference, _INPUT_COLOUR)
        + line(candidate, _CANDIDATE_COLOUR)
        + "</svg>"
    )
