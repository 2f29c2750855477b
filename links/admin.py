from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from links.admin_changelist import (
    EstimatedCountPaginator,
    LinkChangeList,
    OwnerFilter,
    StateFilter,
    compact_datetime,
    truncated,
)
from links.admin_forms import LinkAdminForm
from links.auth import KEY_PREFIX, hash_key, new_key
from links.charts import clicks_chart_svg
from links.exports import csv_download
from links.models import ApiToken, Link, grants_every_link

# The whole admin's name, on every page and in every title (the default
# site's, which the URLconf serves).
admin.site.site_header = "TinyLink administration"
admin.site.site_title = "TinyLink admin"
admin.site.index_title = "Dashboard"

CODE_DISPLAY_CHARS = 24
TARGET_DISPLAY_CHARS = 48
OWNER_DISPLAY_CHARS = 20
CHART_DAYS = 30
QR_PREVIEW_SIZE = 200
QR_DOWNLOAD_SIZE = 512
# Django's delete confirmation lists every selected link and its daily
# counters in one page: fine for a page of links, not for "select all" on a
# million.
BULK_DELETE_LIMIT = 1000
STATS_FIELDS = [
    "state",
    "click_count",
    "last_access_at",
    "created_at",
    "updated_at",
    "clicks_chart",
    "qr_code",
]


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    form = LinkAdminForm
    # Short headers, truncated text and two-line dates, so that the list
    # fits a 1280 px screen beside the filters (issue 15, item 10).
    list_display = [
        "code",
        "target",
        "owner_link",
        "clicks",
        "last_click",
        "expires",
        "state",
        "created",
    ]
    list_select_related = ["owner"]
    # Created date as a list filter, not date_hierarchy: the hierarchy runs
    # SELECT DISTINCT over the truncated dates of every link on each page
    # view, while DateFieldListFilter only adds an indexed range.
    list_filter = [StateFilter, OwnerFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["short_code", "target_url"]
    search_help_text = "Part of a short code or target URL, or an exact user name."
    ordering = ["-created_at"]
    sortable_by = ["code", "clicks", "last_click", "expires", "created"]
    # A million links: no COUNT(*) of the whole table per page view (the
    # paginator estimates it on PostgreSQL), and no per-choice counts.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    autocomplete_fields = ["owner"]
    actions = [
        "delete_selected",
        "deactivate",
        "activate",
        "extend_expiry_7_days",
        "extend_expiry_30_days",
        "export_csv",
    ]

    class Media:
        css = {"all": ["css/admin-links.css"]}

    def get_changelist(self, request, **kwargs):
        return LinkChangeList

    def changelist_view(self, request, extra_context=None):
        # Eight columns and the filters need the whole width of a 1280 px
        # screen: the list of apps beside them would leave the table 630 px.
        # The breadcrumbs and the index still lead everywhere it does.
        extra_context = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    # Staff without link permissions manage their own links here, as in the
    # web UI; other users' links follow the model permissions, decided by
    # LinkQuerySet.visible_to and Link.permits (the admin site itself admits
    # only active staff). Add keeps Django's add permission.
    def has_module_permission(self, request):
        return True

    def has_view_permission(self, request, obj=None):
        return obj is None or obj.permits(request.user, "view")

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.permits(request.user, "change")

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.permits(request.user, "delete")

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_ordering(self, request):
        # A sorted column is the whole ORDER BY, with the primary key for
        # ties (LinkChangeList). Django would put the default -created_at
        # behind it, and that second key keeps the column's index from
        # serving the sort.
        if ORDER_VAR in request.GET:
            return []
        return super().get_ordering(request)

    def get_fieldsets(self, request, obj=None):
        # Beside the target: its host in Unicode, and whether it mixes scripts.
        idn = ["international_host"] if obj is not None and obj.target_host else []
        first = ["short_code", "target_url", *idn, "owner", "is_active"]
        fieldsets = [
            (None, {"fields": first}),
            ("Limits", {"fields": ["expires_at", "max_clicks"]}),
        ]
        if obj is not None:
            fieldsets.append(("Statistics", {"fields": STATS_FIELDS}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        # Only who may change every link hands links to another owner;
        # anyone else's links stay their own (save_model).
        owner = [] if grants_every_link(request.user, "change") else ["owner"]
        if obj is None:
            return owner
        # Printed links and QR codes carry the code: it never changes.
        return ["short_code", "international_host", *owner, *STATS_FIELDS]

    def get_changeform_initial_data(self, request):
        # A link without an owner is in nobody's "My links".
        return {
            "owner": request.user.pk,
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        if obj.owner_id is None:
            obj.owner = request.user
        # Generates the code when it was left blank, like the API.
        obj.insert_new()

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        # An exact user name also finds that user's links. The name is
        # resolved on auth_user's unique index first: "=owner__username" in
        # search_fields would join auth_user into the OR, which keeps
        # PostgreSQL from using any index on the link columns.
        term = search_term.strip()
        if not term:
            return results, may_have_duplicates
        owner_ids = list(
            get_user_model().objects.filter(username=term).values_list("pk", flat=True)
        )
        if owner_ids:
            results |= queryset.filter(owner_id__in=owner_ids)
        return results, may_have_duplicates

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class RequestHostForm(form):
            request_host = request.get_host()

        return RequestHostForm

    @admin.display(description="code", ordering="short_code")
    def code(self, obj):
        return truncated(obj.short_code, CODE_DISPLAY_CHARS)

    @admin.display(description="target")
    def target(self, obj):
        return format_html(
            '<span title="{}">{}</span>{}',
            obj.target_url,
            Truncator(obj.target_url).chars(TARGET_DISPLAY_CHARS),
            self.international_host(obj),
        )

    @admin.display(description="host in Unicode")
    def international_host(self, obj):
        host = obj.target_host
        if host is None:
            return ""
        warning = host.warning and format_html(
            '<strong class="tinylink-idn-warning">⚠ {}</strong>', host.warning
        )
        return format_html(
            ' <span class="tinylink-idn">({})</span>{}', host.unicode, warning
        )

    @admin.display(description="owner")
    def owner_link(self, obj):
        if obj.owner_id is None:
            return "—"
        return format_html(
            '<a href="?owner={}" title="Only the links of {}">{}</a>',
            obj.owner_id,
            obj.owner,
            Truncator(str(obj.owner)).chars(OWNER_DISPLAY_CHARS),
        )

    @admin.display(description="clicks", ordering="click_count")
    def clicks(self, obj):
        return obj.click_count

    @admin.display(description="last click", ordering="last_access_at")
    def last_click(self, obj):
        return compact_datetime(obj.last_access_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        return compact_datetime(obj.expires_at)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return compact_datetime(obj.created_at)

    @admin.display(description="state")
    def state(self, obj):
        return obj.state.label

    @admin.display(description=f"clicks per UTC day, last {CHART_DAYS} days")
    def clicks_chart(self, obj):
        series = obj.clicks_by_day(days=CHART_DAYS, today=timezone.now().date())
        return format_html(
            '<div class="tinylink-chart">{}</div>',
            clicks_chart_svg(series, title=f"Clicks per day, last {CHART_DAYS} days"),
        )

    @admin.display(description="QR code")
    def qr_code(self, obj):
        url = reverse("api:link-qr", kwargs={"short_code": obj.short_code})
        return format_html(
            '<img class="tinylink-qr" src="{}?size={}" width="{}" height="{}" '
            'alt="QR code for {}"><br>'
            '<a href="{}?size={}" download="{}.png">Download PNG</a> · '
            '<a href="{}?format=svg" download="{}.svg">Download SVG</a>',
            url,
            QR_PREVIEW_SIZE,
            QR_PREVIEW_SIZE,
            QR_PREVIEW_SIZE,
            obj.short_code,
            url,
            QR_DOWNLOAD_SIZE,
            obj.short_code,
            url,
            obj.short_code,
        )

    @admin.action(
        description=django_delete_selected.short_description, permissions=["delete"]
    )
    def delete_selected(self, request, queryset):
        # The selection may hold links the user may only look at.
        queryset = queryset.deletable_by(request.user)
        # Counting at most one past the limit stays cheap for any selection.
        if queryset[: BULK_DELETE_LIMIT + 1].count() > BULK_DELETE_LIMIT:
            self.message_user(
                request,
                f"Delete at most {BULK_DELETE_LIMIT:,} links at a time; narrow "
                "the selection with a filter or a search first.",
                messages.ERROR,
            )
            return None
        return django_delete_selected(self, request, queryset)

    @admin.action(description="Deactivate selected links", permissions=["change"])
    def deactivate(self, request, queryset):
        count = queryset.editable_by(request.user).set_active(False)
        self.message_user(request, f"Deactivated {count} link(s).", messages.SUCCESS)

    @admin.action(description="Activate selected links", permissions=["change"])
    def activate(self, request, queryset):
        count = queryset.editable_by(request.user).set_active(True)
        self.message_user(request, f"Activated {count} link(s).", messages.SUCCESS)

    def _extend_expiry(self, request, queryset, days):
        count = queryset.editable_by(request.user).extend_expiry(days)
        # The rules live here, not in the action's label: the label is an
        # option of the action menu, which is as wide as its longest label.
        self.message_user(
            request,
            f"Extended the expiry of {count} link(s) by {days} days (expired "
            "links from now, the others from their expiry); links without an "
            "expiry were left unchanged.",
            messages.SUCCESS,
        )

    @admin.action(description="Extend expiry by 7 days", permissions=["change"])
    def extend_expiry_7_days(self, request, queryset):
        self._extend_expiry(request, queryset, 7)

    @admin.action(description="Extend expiry by 30 days", permissions=["change"])
    def extend_expiry_30_days(self, request, queryset):
        self._extend_expiry(request, queryset, 30)

    @admin.action(description="Export selected links as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        # The same streamed download as the API export.
        return csv_download(queryset, request)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "key_prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key_prefix", "name", "user__username"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "expires_at", *readonly_fields]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A token's user never changes: a key its holder knows, moved to
        # another user, would act as that user. Only a superuser issues
        # tokens for someone else; anyone else's new tokens are their own.
        if obj is None and request.user.is_superuser:
            return self.readonly_fields
        return ["user", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if not change and "user" not in form.base_fields:
            obj.user = request.user
        if not change:
            # The key exists only in this response; the database keeps its hash.
            key = new_key()
            obj.key_prefix = key[: len(KEY_PREFIX) + 7]
            obj.key_hash = hash_key(key)
            request._new_api_key = key
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": obj,
            "key": request._new_api_key,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/links/apitoken/created.html", context)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
