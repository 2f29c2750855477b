from datetime import date, timedelta
from xml.etree import ElementTree

from links.charts import _nice_max, clicks_chart_svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def series(values):
    start = date(2026, 11, 1)
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_chart_has_one_bar_per_day_scaled_to_the_peak():
    svg = ElementTree.fromstring(str(clicks_chart_svg(series([0, 5, 10]))))  # noqa: S314
    bars = svg.findall("svg:rect", NS)
    assert len(bars) == 3
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[0] == 0
    assert heights[2] == 2 * heights[1]
    assert bars[1].find("svg:title", NS).text == "2026-11-02: 5 clicks"
    assert "15 clicks from 2026-11-01 to 2026-11-03" in svg.get("aria-label")


def test_empty_and_all_zero_series_render():
    assert "<svg" in clicks_chart_svg([])
    svg = ElementTree.fromstring(str(clicks_chart_svg(series([0] * 30))))  # noqa: S314
    assert len(svg.findall("svg:rect", NS)) == 30


def test_axis_maximum_is_round():
    assert [_nice_max(v) for v in (0, 1, 3, 7, 10, 11, 99, 101, 4000)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        100,
        200,
        5000,
    ]


def test_title_is_escaped():
    assert "<b>" not in clicks_chart_svg(series([1]), title="<b>x</b>")
