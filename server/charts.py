"""Horizontal bar charts as inline SVG, made on the server: no script, no third-party code.

A chart draws only `Shown` figures (server/stats.py): a suppressed count ("<5")
is drawn as a dashed outline as long as 5, so the picture does not tell 1 from 4.
Every chart has role="img", a <title> and a <desc> with the same figures in
words; the page puts the same numbers in a table next to it. Colours come from
classes styled in site.css (the CSP allows no inline style).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from .stats import Shown

WIDTH = 360
LEFT_LABEL_MAX_CHARS = 18   # longer labels go above their bar
FONT = 15
MIN_SCALE = 20.0


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, Shown]], suppressed_note: str) -> Markup:
    """A bar per row (label, figure). `chart_id` must be unique in the page."""
    longest = max((len(label) for label, _ in rows), default=0)
    beside = longest <= LEFT_LABEL_MAX_CHARS
    label_w = 8 + int(longest * FONT * 0.6) if beside else 0
    row_h = 27 if beside else 40
    bar_x = label_w + 4
    bar_max = WIDTH - bar_x - 48
    top = 4
    # The scale never ends below 20, so that a chart of a few "<5" bars (drawn as 5) does not look full.
    scale = max(max((shown.bar for _, shown in rows), default=0.0), MIN_SCALE)
    parts: list[str] = []
    for index, (label, shown) in enumerate(rows):
        y = top + index * row_h
        if beside:
            text_y, bar_y = y + 18, y + 7
            parts.append(f'<text class="label" x="{label_w}" y="{text_y}" text-anchor="end">{escape(label)}</text>')
        else:
            text_y, bar_y = y + 15, y + 22
            parts.append(f'<text class="label" x="0" y="{text_y}">{escape(label)}</text>')
        width = round(bar_max * shown.bar / scale, 1) if shown.bar else 0
        if width:
            kind = "bar suppressed" if shown.suppressed else "bar"
            parts.append(f'<rect class="{kind}" x="{bar_x}" y="{bar_y}" width="{width}" height="14" rx="2"/>')
        parts.append(f'<text class="value" x="{bar_x + width + 5}" y="{bar_y + 13}">{escape(shown.text)}</text>')
    height = top + len(rows) * row_h + 4
    words = "; ".join(f"{label}: {shown.text}" for label, shown in rows)
    if any(shown.suppressed for _, shown in rows):
        words += f". {suppressed_note}"
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' role="img" aria-labelledby="{escape(chart_id)}-titel" aria-describedby="{escape(chart_id)}-tekst"'
        f' xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-titel">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-tekst">{escape(words)}</desc>'
        + "".join(parts) + "</svg>")
