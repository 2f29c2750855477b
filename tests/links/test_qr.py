import io
import xml.etree.ElementTree as ET

import pytest
from django.http import QueryDict
from PIL import Image

from links.qr import (
    DEFAULT_BORDER,
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    QRParameterError,
    QRParams,
    parse_qr_params,
    qr_etag,
    render_qr,
)

URL = "https://tiny.example/abc1234"
SVG = "{http://www.w3.org/2000/svg}"


def png_image(params, data=URL):
    body, content_type = render_qr(data, params)
    assert content_type == "image/png"
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    return image


def test_defaults():
    assert parse_qr_params({}) == QRParams(format="png", size=256, border=4)
    assert (DEFAULT_SIZE, DEFAULT_BORDER) == (256, 4)


def test_given_values_are_parsed():
    params = parse_qr_params({"format": "svg", "size": "64", "border": "0"})
    assert params == QRParams(format="svg", size=64, border=0)
    params = parse_qr_params({"size": "2048", "border": "16"})
    assert params == QRParams(format="png", size=2048, border=16)


def test_a_real_query_dict_is_read():
    params = parse_qr_params(QueryDict("format=svg&size=128&border=2"))
    assert params == QRParams(format="svg", size=128, border=2)


@pytest.mark.parametrize("size", [MIN_SIZE, 100, 257, MAX_SIZE])
def test_png_is_exactly_the_requested_size(size):
    image = png_image(QRParams(format="png", size=size, border=4))
    assert image.size == (size, size)


def test_png_is_square_with_black_and_white_pixels():
    image = png_image(QRParams(size=200)).convert("L")
    assert image.width == image.height
    assert image.getextrema() == (0, 255)
    # Only pure black and white: smoothing would leave grey edges.
    assert {value for _, value in image.getcolors()} == {0, 255}


def test_png_border_is_white_and_as_wide_as_asked():
    # 200 px is not a multiple of the module count, so module widths vary by a
    # pixel; a border of 4 modules stays at least 4 * (200 // modules) wide.
    image = png_image(QRParams(size=200, border=4)).convert("L")
    corner = image.crop((0, 0, 12, 12))
    assert corner.getextrema() == (255, 255)
    no_border = png_image(QRParams(size=200, border=0)).convert("L")
    assert no_border.getpixel((0, 0)) == 0  # a finder pattern starts at once


def test_svg_is_well_formed_xml_with_requested_size():
    body, content_type = render_qr(URL, QRParams(format="svg", size=300, border=2))
    assert content_type == "image/svg+xml"
    root = ET.fromstring(body)  # noqa: S314 - our own output, not user XML
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "300px"
    assert root.get("height") == "300px"
    _, _, width, height = root.get("viewBox").split()
    assert width == height
    path = root.find(f"{SVG}path")
    assert path is not None
    assert path.get("d")


def test_svg_viewbox_includes_the_border():
    def viewbox_width(border):
        body, _ = render_qr(URL, QRParams(format="svg", border=border))
        root = ET.fromstring(body)  # noqa: S314 - our own output
        return float(root.get("viewBox").split()[2])

    assert viewbox_width(4) - viewbox_width(0) == 8


@pytest.mark.parametrize("size", ["63", "2049", str(10**9), "-1", "abc", "1.5", ""])
def test_out_of_range_size_is_rejected(size):
    with pytest.raises(QRParameterError) as excinfo:
        parse_qr_params({"size": size})
    assert excinfo.value.field == "size"
    assert str(excinfo.value) == (
        "size must be a whole number of pixels from 64 to 2048."
    )


@pytest.mark.parametrize("size", [" 256", "256 ", "2_56", "\u0662\u0665\u0666", "+256"])
def test_size_must_be_plain_ascii_digits(size):
    with pytest.raises(QRParameterError) as excinfo:
        parse_qr_params({"size": size})
    assert excinfo.value.field == "size"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"border": "-1"}, "border"),
        ({"border": "17"}, "border"),
        ({"border": "x"}, "border"),
        ({"border": ""}, "border"),
        ({"format": "jpeg"}, "format"),
        ({"format": "PNG"}, "format"),
        ({"format": ""}, "format"),
    ],
)
def test_bad_border_and_format_are_rejected(query, field):
    with pytest.raises(QRParameterError) as excinfo:
        parse_qr_params(query)
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field} must be ")
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    "kwargs", [{"size": 10**9}, {"size": 256.0}, {"border": 99}, {"format": "gif"}]
)
def test_params_cannot_be_built_out_of_range(kwargs):
    with pytest.raises(QRParameterError):
        QRParams(**kwargs)


def test_code_too_big_for_the_size_is_rejected():
    long_data = "https://tiny.example/" + "x" * 64
    with pytest.raises(QRParameterError) as excinfo:
        render_qr(long_data, QRParams(size=64, border=16))
    assert excinfo.value.field == "size"
    # The same data fits once the image is large enough.
    assert png_image(QRParams(size=128, border=16), long_data).size == (128, 128)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_rendering_is_deterministic(fmt):
    params = QRParams(format=fmt, size=321, border=3)
    first = render_qr(URL, params)
    assert render_qr(URL, params) == first
    assert render_qr(URL + "x", params)[0] != first[0]


def test_etag_is_strong_and_quoted():
    etag = qr_etag(URL, QRParams())
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert not etag.startswith("W/")
    assert '"' not in etag[1:-1]
    assert etag == qr_etag(URL, QRParams())


def test_etag_differs_by_each_parameter_and_data():
    base = QRParams(format="png", size=256, border=4)
    variants = [
        (URL, base),
        (URL + "/", base),
        (URL, QRParams(format="svg", size=256, border=4)),
        (URL, QRParams(format="png", size=257, border=4)),
        (URL, QRParams(format="png", size=256, border=5)),
    ]
    etags = {qr_etag(data, params) for data, params in variants}
    assert len(etags) == len(variants)
