"""Counting a click: the redirect's only write, kept to two atomic statements."""

from django.db import connection, transaction
from django.db.models import F

from links.models import Link, LinkDailyClicks


def _upsert_daily_sql():
    table = connection.ops.quote_name(LinkDailyClicks._meta.db_table)
    # The same statement works on SQLite (>= 3.24) and PostgreSQL. The counter
    # is incremented in the database, never read-modify-written in Python.
    # Only the quoted table name is interpolated; values go as parameters.
    return (
        f"INSERT INTO {table} (link_id, day, clicks) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (link_id, day) DO UPDATE SET clicks = {table}.clicks + "
        "excluded.clicks"
    )


def add_daily_clicks(link_id, day, clicks):
    """Add `clicks` to the link's count for `day` (a date), in one statement."""
    with connection.cursor() as cursor:
        day = connection.ops.adapt_datefield_value(day)
        cursor.execute(_upsert_daily_sql(), [link_id, day, clicks])


def record_click(link_id, *, now):
    """Count one click on the link if it can still take one.

    Returns False when the link stopped being active since it was read (expired,
    deactivated, or another request took its last allowed click): the state
    test sits inside the UPDATE, so max_clicks can never be overshot.
    """
    with transaction.atomic():
        updated = (
            Link.objects.filter(pk=link_id)
            .active(now)
            .update(click_count=F("click_count") + 1, last_access_at=now)
        )
        if not updated:
            return False
        add_daily_clicks(link_id, now.date(), 1)
    return True
