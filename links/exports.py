"""The links CSV: one format for the API export, the admin action and the
export_links/import_links commands, streamed row by row."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

EXPORT_HEADER = [
    "short_code",
    "short_url",
    "target_url",
    "created_at",
    "expires_at",
    "max_clicks",
    "click_count",
    "last_access_at",
    "is_active",
]
# Spreadsheet programs run cells that start with these as formulas.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


def neutralise(value):
    """Make a cell inert in spreadsheets: a leading quote, as OWASP advises.
    import_links strips it again, so export → import round-trips."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def restore_cell(text):
    """Undo neutralise()."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_PREFIXES):
        return text[1:]
    return text


def _timestamp(value):
    return value.isoformat() if value else ""


def link_row(link, request=None):
    return [
        link.short_code,
        link.short_url(request),
        link.target_url,
        _timestamp(link.created_at),
        _timestamp(link.expires_at),
        "" if link.max_clicks is None else link.max_clicks,
        link.click_count,
        _timestamp(link.last_access_at),
        "true" if link.is_active else "false",
    ]


class _Echo:
    def write(self, value):
        return value


def csv_lines(queryset, request=None):
    """Yield the CSV text line by line; memory stays flat for any row count
    because .iterator() streams from a server-side cursor (PostgreSQL) or in
    chunks (SQLite)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_HEADER)
    for link in queryset.order_by("pk").iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([neutralise(cell) for cell in link_row(link, request)])


def csv_download(queryset, request=None):
    """The links of `queryset` as a streamed CSV attachment, named by the time
    of the export and never stored by a cache."""
    response = StreamingHttpResponse(
        # The CSV has no use for a join the caller's queryset may carry.
        csv_lines(queryset.select_related(None), request),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = (
        f'attachment; filename="tinylink-links-{stamp}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response
