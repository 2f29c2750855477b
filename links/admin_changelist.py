"""The links change list at a million rows: filters, ordering and counts
that an index or a statistic can answer.

Counting: PostgreSQL has no cheap exact COUNT(*): MVCC makes it visit every
row (or every index entry), about 150 ms per million links and growing with
the table. Its planner statistics already hold a row estimate,
pg_class.reltuples, kept fresh by autovacuum's ANALYZE; for an unfiltered list
of a large table that estimate is as useful as the exact number.

SQLite keeps no such number (sqlite_stat1 exists only after a manual ANALYZE
and is never refreshed), and needs none: its COUNT(*) walks the smallest index
of one local file, about a millisecond for a million links
(docs/performance.md). So SQLite always counts exactly.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from links.models import LinkState

# Below this many rows an exact count is cheap everywhere, and small
# databases (tests, fresh installs) see exact numbers.
ESTIMATE_THRESHOLD = 10_000


def estimated_row_count(model, *, using="default"):
    """PostgreSQL's estimate of the rows in model's table, or None when the
    database has no usable estimate (SQLite; a table never analysed)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(model._meta.db_table)],
        )
        row = cursor.fetchone()
    # -1 means "never vacuumed or analysed" (PostgreSQL 14+).
    if row is None or row[0] < 0:
        return None
    return row[0]


def _large(estimate):
    return estimate is not None and estimate > ESTIMATE_THRESHOLD


def table_row_count(model, *, using="default"):
    """(count, is_estimate): the estimate when the table is large, else exact."""
    estimate = estimated_row_count(model, using=using)
    if _large(estimate):
        return estimate, True
    return model._default_manager.using(using).count(), False


def _is_whole_table(queryset):
    query = queryset.query
    return not (
        query.where
        or query.distinct
        or query.combinator
        or query.is_sliced
        or query.group_by
    )


class EstimatedCountPaginator(Paginator):
    """Uses the table estimate for an unfiltered queryset of a large table;
    any filter or search counts exactly, since no statistic knows that
    number. Near the last page the estimate's error shows: an empty last
    page, or a few links reachable only by sorting the other way."""

    @cached_property
    def count(self):
        queryset = self.object_list
        if hasattr(queryset, "query") and _is_whole_table(queryset):
            estimate = estimated_row_count(queryset.model, using=queryset.db)
            if _large(estimate):
                return estimate
        return super().count


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return LinkState.choices

    def queryset(self, request, queryset):
        if self.value() in LinkState.values:
            return queryset.in_state(self.value())
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    """Owner choices that cost no query. RelatedFieldListFilter would put every
    user in the sidebar, and RelatedOnlyFieldListFilter first runs SELECT
    DISTINCT owner_id over all links: a full scan of a million rows on every
    page view, then a list as long as the number of owners. Instead: mine /
    any owner / no owner here, one owner through the owner column's link
    (?owner=<id>, served by the (owner, -created_at) index), and an exact
    user name in the search box."""

    title = "owner"
    parameter_name = "owner"
    _USER_ID_DIGITS = 18  # fits a bigint, so a long value cannot overflow

    def _user_id(self):
        value = self.value() or ""
        if value.isascii() and value.isdigit() and len(value) <= self._USER_ID_DIGITS:
            return int(value)
        return None

    def lookups(self, request, model_admin):
        choices = [("mine", "Mine"), ("any", "Has an owner"), ("none", "No owner")]
        user_id = self._user_id()
        if user_id is not None:
            # Only the selected owner is looked up, to show their name.
            user = get_user_model().objects.filter(pk=user_id).first()
            choices.append((str(user_id), str(user) if user else f"#{user_id}"))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.owned_by(request.user)
        if value == "any":
            return queryset.filter(owner__isnull=False)
        if value == "none":
            return queryset.filter(owner__isnull=True)
        user_id = self._user_id()
        if user_id is not None:
            return queryset.filter(owner_id=user_id)
        return queryset


class LinkChangeList(ChangeList):
    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        # Django breaks ties with "-pk" whatever the sort's direction. Going
        # the sort's way lets SQLite serve an ascending sort from a one-column
        # index, whose entries are in rowid order within a key: expiry
        # ascending starts with hundreds of thousands of tied NULLs.
        first = ordering[0] if ordering else None
        if (
            ordering[-1:] == ["-pk"]
            and isinstance(first, str)
            and not first.startswith("-")
        ):
            ordering[-1] = "pk"
        return ordering
