"""Charts drawn on the server as SVG: no script, no CDN, readable without
colour (every bar carries its label and value as text; series differ by fill
pattern as well as colour). Each chart sits next to a table of its numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_HEIGHT = 26
GAP = 10
LABEL_WIDTH = 190
VALUE_WIDTH = 150
WIDTH = 720

SOLID = "#1f5f99"


def _patterns(key: str) -> tuple[Markup, tuple[str, ...]]:
    """The fill patterns of one chart, with ids of its own (a page shows
    several charts, and an id names one element per page), and its fills."""
    hatch, dots = f"{key}-hatch", f"{key}-dots"
    defs = Markup(
        "<defs>"
        f'<pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="6" height="6" fill="#dbe7f3"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#1f5f99" stroke-width="3"/></pattern>'
        f'<pattern id="{dots}" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#fdebd3"/><circle cx="3" cy="3" r="1.6" fill="#9a5b00"/>'
        "</pattern></defs>"
    )
    return defs, (SOLID, f"url(#{hatch})", f"url(#{dots})")


def _key(title: str) -> str:
    return "chart-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "x")


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) that splits 0..top into
    at most `ticks` intervals."""
    raw = max(top, 1) / ticks
    power = 10 ** max(0, len(str(int(raw))) - 1)
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return max(1, multiple * power)
    return 10 * power  # pragma: no cover (10 * power >= raw always)


def shortened(text: str, limit: int = 26) -> str:
    """A label that fits beside a bar (the table beside the chart has it whole)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str  # the value as people read it ("$1,250.00", "12 (40%)")


def _svg(height: int, title: str, body: str, defs: str = "") -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{defs}{body}</svg>"
    )


def bars(items: Sequence[Bar], *, title: str) -> Markup:
    """Horizontal bars, longest first as given, each labelled with its value."""
    if not items:
        return Markup("")
    top = max((item.value for item in items), default=0) or 1
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = []
    for i, item in enumerate(items):
        y = i * (BAR_HEIGHT + GAP)
        length = max(0, round(track * max(item.value, 0) / top))
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end" class="label">'
            f"{escape(item.label)}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}"'
            f' fill="{SOLID}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 18}" class="value">'
            f"{escape(item.text)}</text>"
        )
    return _svg(len(items) * (BAR_HEIGHT + GAP), title, "".join(parts))


def columns(
    months: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    height: int = 240,
) -> Markup:
    """Grouped monthly columns, one pattern per series, with a text legend and
    a y-axis marked with round values."""
    if not months:
        return Markup("")
    defs, fills = _patterns(_key(title))
    step = nice_step(max((v for _, values in series for v in values), default=0))
    top = step * max(1, -(-max((v for _, vs in series for v in vs), default=0) // step))
    legend_height, axis_height, left = 28, 20, 64
    plot = height - legend_height - axis_height
    base = legend_height + plot
    slot = (WIDTH - left) / len(months)
    width = max(2.0, (slot - 6) / max(len(series), 1))
    parts = []
    for s, (name, _values) in enumerate(series):
        x = left + s * 200
        parts.append(
            f'<rect x="{x}" y="4" width="14" height="14" fill="{fills[s % 3]}" stroke="#333"/>'
            f'<text x="{x + 20}" y="16" class="label">{escape(name)}</text>'
        )
    for tick in range(0, top + 1, step):
        y = base - round(plot * tick / top)
        parts.append(
            f'<line x1="{left - 4}" y1="{y}" x2="{WIDTH}" y2="{y}" class="gridline"/>'
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" class="axis">{tick:,}</text>'
        )
    for m, month in enumerate(months):
        x0 = left + m * slot
        for s, (_name, values) in enumerate(series):
            value = values[m]
            h = round(plot * max(value, 0) / top)
            parts.append(
                f'<rect x="{x0 + s * width:.1f}" y="{base - h}" width="{width:.1f}" height="{h}"'
                f' fill="{fills[s % 3]}" stroke="#333" stroke-width="0.5">'
                f"<title>{escape(month)} {escape(series[s][0])}: {value:,}</title></rect>"
            )
        if len(months) <= 13 or m % 2 == 0:
            parts.append(
                f'<text x="{x0 + slot / 2:.1f}" y="{height - 4}" text-anchor="middle"'
                f' class="axis">{escape(month[2:])}</text>'
            )
    parts.append(f'<line x1="{left - 2}" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#333"/>')
    return _svg(height, title, "".join(parts), defs)
