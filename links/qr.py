"""QR codes for short links, kept apart from views so they can be tested alone.

Query parameters are checked before anything is drawn: an image's cost grows
with the square of its size, so a size straight from the URL must be bounded
first. Rendering is deterministic because the ETag is derived from the inputs,
not from the bytes, and a cached copy must stay equal to a fresh one.
"""

import hashlib
import io
import re
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.image.svg
from PIL import Image

MIN_SIZE = 64
MAX_SIZE = 2048
DEFAULT_SIZE = 256
MIN_BORDER = 0
MAX_BORDER = 16
DEFAULT_BORDER = 4
FORMATS = ("png", "svg")
DEFAULT_FORMAT = "png"

# Part of every ETag: bump it whenever the bytes for the same inputs change
# (a new qrcode or Pillow release, another error correction level), or
# clients would keep images that no longer match what the server draws.
RENDER_VERSION = "qr1"

# Plain ASCII digits only: int() would also take " 12", "1_2" and other
# scripts' digits. The length cap keeps int() cheap whatever is sent.
_WHOLE_NUMBER = re.compile(r"\A[0-9]{1,6}\Z")

_CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_MESSAGES = {
    "format": f"format must be one of: {', '.join(FORMATS)}.",
    "size": f"size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}.",
    "border": (
        f"border must be a whole number of modules from {MIN_BORDER} to {MAX_BORDER}."
    ),
}


class QRParameterError(ValueError):
    """A query parameter a client can fix; `field` names it for the response."""

    def __init__(self, field, message=None):
        self.field = field
        self.message = message or _MESSAGES[field]
        super().__init__(self.message)


@dataclass(frozen=True)
class QRParams:
    format: str = DEFAULT_FORMAT
    size: int = DEFAULT_SIZE
    border: int = DEFAULT_BORDER

    def __post_init__(self):
        # Checked here as well as in parsing, so that no caller can build
        # parameters that would make render_qr allocate a huge image.
        if self.format not in FORMATS:
            raise QRParameterError("format")
        for field, low, high in (
            ("size", MIN_SIZE, MAX_SIZE),
            ("border", MIN_BORDER, MAX_BORDER),
        ):
            value = getattr(self, field)
            if type(value) is not int or not low <= value <= high:
                raise QRParameterError(field)


def _whole_number(query, field, default):
    raw = query.get(field)
    if raw is None:
        return default
    if not isinstance(raw, str) or not _WHOLE_NUMBER.match(raw):
        raise QRParameterError(field)
    return int(raw)


def parse_qr_params(query):
    """Read format, size and border from a mapping such as request.GET.

    A missing parameter takes its default; an empty or malformed one is an
    error, since a client that sent it meant something by it.
    """
    fmt = query.get("format")
    return QRParams(
        format=DEFAULT_FORMAT if fmt is None else fmt,
        size=_whole_number(query, "size", DEFAULT_SIZE),
        border=_whole_number(query, "border", DEFAULT_BORDER),
    )


def _build(data, border, box_size):
    # Level M survives a smudged print yet keeps a short URL at a low version,
    # so its modules stay large enough to scan at small sizes.
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
    )
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def render_qr(data: str, params: QRParams) -> tuple[bytes, str]:
    """Draw `data` as a QR code; returns (body, content type).

    Raises QRParameterError for "size" when the code plus its border has more
    modules than the image has pixels: scaled that far down it would not scan.
    """
    svg = params.format == "svg"
    # The PNG is drawn at one pixel per module and scaled afterwards. For the
    # SVG, ten pixels per module make one unit of the library's viewBox, so the
    # path holds whole numbers rather than long decimals.
    qr = _build(data, params.border, box_size=10 if svg else 1)
    modules = qr.modules_count + 2 * params.border
    if modules > params.size:
        raise QRParameterError(
            "size",
            f"size must be at least {modules} pixels to fit this code and border.",
        )
    body = _render_svg(qr, params.size) if svg else _render_png(qr, params.size)
    return body, _CONTENT_TYPES[params.format]


def _render_png(qr, size):
    # NEAREST keeps the edges sharp; any smoothing would blur modules into
    # grey and hurt scanning.
    image = qr.make_image().get_image()
    image = image.resize((size, size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _render_svg(qr, size):
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    root = image.get_image()
    # The library sizes the SVG in millimetres from its box size; the client
    # asked for pixels. The viewBox it sets is kept, so the drawing scales.
    root.set("width", f"{size}px")
    root.set("height", f"{size}px")
    return image.to_string(encoding="UTF-8")


def qr_etag(data: str, params: QRParams) -> str:
    """A strong ETag from the inputs, so a 304 needs no rendering at all."""
    key = f"{RENDER_VERSION}|{params.format}|{params.size}|{params.border}|{data}"
    return (
        '"' + RENDER_VERSION + "-" + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    )
