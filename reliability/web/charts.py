"""Small inline SVG charts of rates (0 to 1): no script, no CDN, readable on a phone."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 12, 12, 36
INK, GRID, MUTED, ACCENT = "#1f2328", "#d0d7de", "#59636e", "#0969da"


def _pct(value: float) -> str:
    return f"{value:.0%}"


def weekly_line(points: Sequence[tuple[str, float | None]], *, label: str) -> Markup:
    """On-time rate per week; weeks with nothing due leave a gap, not a false zero."""
    if not points:
        return Markup('<p class="empty">Nothing was due in this period.</p>')
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(points) - 1, 1)
    parts = [_frame(label)]
    segments: list[list[tuple[float, float]]] = [[]]
    for index, (week, rate) in enumerate(points):
        x = PAD_LEFT + index * step
        if index % max(len(points) // 6, 1) == 0 or index == len(points) - 1:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                         f'font-size="11" fill="{MUTED}">{escape(week)}</text>')
        if rate is None:
            segments.append([])
            continue
        y = PAD_TOP + plot_h * (1 - rate)
        segments[-1].append((x, y))
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{ACCENT}">'
                     f"<title>{escape(week)}: {_pct(rate)} on time</title></circle>")
    for segment in segments:
        if len(segment) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" '
                         'stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _frame(label: str) -> str:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">']
    for tick in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - tick)
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
                     f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="{MUTED}">{_pct(tick)}</text>')
    return "".join(parts)


def rate_bars(rows: Sequence[tuple[str, float | None, int]], *, label: str) -> Markup:
    """One horizontal bar per owner or client: the on-time rate, with how many were due."""
    if not rows:
        return Markup('<p class="empty">Nothing was due in this period.</p>')
    bar_h, gap, name_w, value_w = 22, 10, 170, 90
    height = len(rows) * (bar_h + gap) + gap
    plot_w = WIDTH - name_w - value_w
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">']
    for index, (name, rate, due) in enumerate(rows):
        y = gap + index * (bar_h + gap)
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(f'<text x="0" y="{y + 15}" font-size="13" fill="{INK}">'
                     f"{escape(short)}</text>"
                     f'<rect x="{name_w}" y="{y}" width="{plot_w}" height="{bar_h}" '
                     f'fill="#f6f8fa" rx="3"/>')
        if rate is not None:
            parts.append(f'<rect x="{name_w}" y="{y}" width="{plot_w * rate:.1f}" '
                         f'height="{bar_h}" fill="{_colour(rate)}" rx="3">'
                         f"<title>{escape(name)}: {_pct(rate)} on time of {due}</title></rect>")
        value = f"{_pct(rate)} of {due}" if rate is not None else "nothing due"
        parts.append(f'<text x="{WIDTH}" y="{y + 15}" text-anchor="end" font-size="12" '
                     f'fill="{MUTED}">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _colour(rate: float) -> str:
    if rate >= 0.9:
        return "#1a7f37"
    if rate >= 0.75:
        return "#9a6700"
    return "#cf222e"
