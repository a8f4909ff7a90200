"""Small charts as inline SVG (no script, no CDN): bars over time, and labelled horizontal bars."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def _n(value: float) -> str:
    """A coordinate as text (format_html escapes its arguments, so numbers are formatted first)."""
    return f"{value:.1f}"


def draw_time_bars(
    values: list[int], *, title: str, width: int = 360, height: int = 60, color: str = "#417690"
) -> SafeString:
    """One bar per value, oldest left; the tallest bar fills the height."""
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        (
            (_n(i * step), _n(height - height * v / top), _n(max(step - 1, 1)), _n(height * v / top), v)
            for i, v in enumerate(values)
        ),
    )
    return format_html(
        '<svg class="ops-chart" role="img" aria-label="{}" width="{}" height="{}"'
        ' viewBox="0 0 {} {}" fill="{}"><title>{}</title>{}</svg>',
        title,
        width,
        height,
        width,
        height,
        color,
        title,
        bars,
    )


def draw_inline_bar(value: float, *, top: float, width: int = 90, color: str = "#79aec8") -> SafeString:
    """A bar for one row of a table of counts, scaled to the table's largest."""
    length = width * value / top if top else 0
    return format_html(
        '<svg class="ops-chart" role="img" aria-label="{}" width="{}" height="10"'
        ' viewBox="0 0 {} 10" fill="{}"><rect x="0" y="1" width="{}" height="8"></rect></svg>',
        value,
        width,
        width,
        color,
        _n(max(length, 1 if value else 0)),
    )
