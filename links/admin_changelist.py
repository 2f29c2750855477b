"""The links change list at a million rows: filters, ordering and counts
that an index or a statistic can answer.

Counting: an unfiltered list of a large table shows PostgreSQL's planner
estimate instead of running COUNT(*) (LinkQuerySet.planner_estimate says why
PostgreSQL needs one and SQLite does not); any filter counts exactly.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator

from links.models import LinkState, grants_every_link

# Below this many rows an exact count is cheap everywhere, and small
# databases (tests, fresh installs) see exact numbers.
ESTIMATE_THRESHOLD = 10_000


def _large(estimate):
    return estimate is not None and estimate > ESTIMATE_THRESHOLD


def table_row_count(queryset):
    """(count, is_estimate): the planner's estimate for an unfiltered queryset
    of a large table, else the exact count."""
    estimate = queryset.planner_estimate()
    if _large(estimate):
        return estimate, True
    return queryset.count(), False


class EstimatedCountPaginator(Paginator):
    """Uses the table estimate for an unfiltered queryset of a large table;
    any filter or search counts exactly, since no statistic knows that
    number. Near the last page the estimate's error shows: an empty last
    page, or a few links reachable only by sorting the other way."""

    @cached_property
    def count(self):
        # A Paginator may be handed a plain list, which has no estimate.
        planner_estimate = getattr(self.object_list, "planner_estimate", None)
        if planner_estimate is not None:
            estimate = planner_estimate()
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
            # Only the selected owner is looked up, to show their name; not
            # for staff who see only their own links, who would otherwise
            # read every user name by trying ids.
            user = None
            if grants_every_link(request.user, "view"):
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


# --- Columns narrow enough for a 1280 px screen ------------------------------


def truncated(text, chars):
    """`text` cut to `chars` characters, the whole of it in the title."""
    shown = Truncator(text).chars(chars)
    if shown == text:
        return text
    return format_html('<span title="{}">{}</span>', text, shown)


def compact_datetime(value):
    """2025-12-31 23:59 in the current time zone, free to wrap between date
    and time (Django's "Dec. 31, 2025, 11:59 p.m." never wraps in a list);
    the seconds and the zone in the title. None shows the admin's "-"."""
    if value is None:
        return None
    local = timezone.localtime(value)
    return format_html(
        '<time class="tinylink-when" datetime="{}" title="{}">'
        "<span>{}</span> <span>{}</span></time>",
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
    )
