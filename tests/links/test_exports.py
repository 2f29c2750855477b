import csv
import io

from links.exports import EXPORT_HEADER, csv_download
from links.models import Link
from tests.links.admin_helpers import make_link


def test_csv_download_is_a_dated_attachment_that_no_cache_stores(db, frozen_now, rf):
    make_link("one")

    response = csv_download(Link.objects.select_related("owner"), rf.get("/"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="tinylink-links-{frozen_now:%Y%m%d-%H%M%S}.csv"'
    )
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == ["one"]
