"""Clicks-per-day bar chart as inline SVG, rendered on the server: no script,
no CDN, readable by screen readers through its title and table fallback."""

from django.utils.html import format_html, format_html_join

WIDTH = 720
HEIGHT = 180
PADDING_LEFT = 36
PADDING_BOTTOM = 22


def _nice_max(value):
    """A round axis maximum at or above value (1, 2, 5, 10, 20, 50, ...)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def clicks_chart_svg(series, *, title="Clicks per day"):
    """series: [(date, clicks)], oldest first. Returns safe SVG markup."""
    days = len(series)
    peak = _nice_max(max((clicks for _, clicks in series), default=0))
    plot_width = WIDTH - PADDING_LEFT
    plot_height = HEIGHT - PADDING_BOTTOM
    slot = plot_width / max(days, 1)
    bar_width = max(slot * 0.8, 1)
    bars = []
    for index, (day, clicks) in enumerate(series):
        height = plot_height * clicks / peak
        bars.append(
            (
                f"{PADDING_LEFT + index * slot + (slot - bar_width) / 2:.1f}",
                f"{plot_height - height:.1f}",
                f"{bar_width:.1f}",
                f"{height:.1f}",
                f"{day.isoformat()}: {clicks} click{'s' if clicks != 1 else ''}",
            )
        )
    first = series[0][0].isoformat() if series else ""
    last = series[-1][0].isoformat() if series else ""
    total = sum(clicks for _, clicks in series)
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="{title}: {total} clicks from {first} to {last}" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        "<title>{title}</title>"
        '<line x1="{pl}" y1="{ph}" x2="{w}" y2="{ph}" class="axis"/>'
        '<text x="{tx}" y="10" class="label" text-anchor="end">{peak}</text>'
        '<text x="{tx}" y="{ph}" class="label" text-anchor="end">0</text>'
        "{bars}"
        '<text x="{pl}" y="{h}" class="label">{first}</text>'
        '<text x="{w}" y="{h}" class="label" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT - 4,
        pl=PADDING_LEFT,
        ph=plot_height,
        tx=PADDING_LEFT - 4,
        peak=peak,
        title=title,
        total=total,
        first=first,
        last=last,
        bars=format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" class="bar">'
            "<title>{}</title></rect>",
            bars,
        ),
    )
