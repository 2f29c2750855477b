"""The links REST API (DRF), TinyLink+-compatible. See README for curl examples."""

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from links import qr
from links.api_schema import (
    bulk_schema,
    export_schema,
    link_viewset_schema,
    qr_schema,
    stats_schema,
)
from links.errors import Conflict, error_envelope
from links.exports import csv_download
from links.models import Link, LinkState, ShortCodeTaken
from links.serializers import LinkSerializer
from links.throttles import WriteRateThrottle

BULK_MAX_ITEMS = 1000
STATS_MAX_DAYS = 366
ORDERING_FIELDS = {
    "created_at",
    "updated_at",
    "expires_at",
    "click_count",
    "last_access_at",
    "short_code",
}


class LinkPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        # DRF silently ignores a malformed page_size; a client that sent one
        # should hear about it. Sizes above the maximum are capped.
        if request.query_params.get(self.page_size_query_param, "") == "":
            return self.page_size
        raw = request.query_params[self.page_size_query_param]
        if not raw.isdigit() or int(raw) < 1:
            raise ValidationError(
                {self.page_size_query_param: ["Must be a whole number of 1 or more."]}
            )
        return min(int(raw), self.max_page_size)


class LinkAccess(permissions.BasePermission):
    """Signed in for everything; anonymous create only on public instances."""

    def has_permission(self, request, view):
        if request.user and request.user.is_authenticated:
            return True
        return (
            settings.LINKS_ANONYMOUS_CREATE
            and getattr(view, "action", None) == "create"
        )


class ApiDocsAccess(permissions.BasePermission):
    """/api/docs and /api/schema: anyone with API_DOCS_PUBLIC, else staff (a
    public map of every endpoint and field helps an attacker more than a
    client that has the README)."""

    def has_permission(self, request, view):
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_staff)


def _positive_int(request, name, default, low, high):
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValidationError({name: [f"Must be a whole number from {low} to {high}."]})
    return value


@link_viewset_schema
class LinkViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LinkSerializer
    pagination_class = LinkPagination
    permission_classes = [LinkAccess]
    throttle_classes = [WriteRateThrottle]
    lookup_field = "short_code"
    lookup_value_regex = r"[A-Za-z0-9_-]{1,64}"

    def get_queryset(self):
        # A link the user may not act on is simply not found: no 403 that
        # would confirm that its code exists.
        user = self.request.user
        if self.action in ("update", "partial_update"):
            return Link.objects.editable_by(user)
        if self.action == "destroy":
            return Link.objects.deletable_by(user)
        return Link.objects.visible_to(user)

    def filter_queryset(self, queryset):
        params = self.request.query_params
        q = params.get("q", "").strip()
        if "\x00" in q:
            # PostgreSQL refuses NUL in text; no link can contain one anyway.
            raise ValidationError(
                {"q": ["The search must not contain NUL characters."]}
            )
        if q:
            queryset = queryset.filter(
                Q(short_code__icontains=q) | Q(target_url__icontains=q)
            )
        state = params.get("state", "")
        if state:
            if state not in LinkState.values:
                raise ValidationError(
                    {"state": [f"One of: {', '.join(LinkState.values)}."]}
                )
            queryset = queryset.in_state(state)
        ordering = params.get("ordering", "-created_at")
        if ordering.lstrip("-") not in ORDERING_FIELDS:
            raise ValidationError(
                {
                    "ordering": [
                        f"One of: {', '.join(sorted(ORDERING_FIELDS))}, "
                        "optionally prefixed with '-'."
                    ]
                }
            )
        # The primary key breaks ties so pages never repeat or skip a link.
        return queryset.order_by(ordering, "-pk" if ordering[0] == "-" else "pk")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["now"] = timezone.now()
        user = self.request.user
        context["owner"] = user if user.is_authenticated else None
        return context

    def perform_create(self, serializer):
        try:
            serializer.save()
        except ShortCodeTaken as exc:
            raise Conflict(str(exc), {"short_code": [str(exc)]}) from None

    def update(self, request, *args, **kwargs):
        # TinyLink+ clients send partial PUT bodies ({"expires_at": null}).
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    @qr_schema
    @action(detail=True, methods=["get"], throttle_classes=[])
    def qr(self, request, short_code=None):
        link = self.get_object()
        data = link.short_url(request)
        try:
            params = qr.parse_qr_params(request.query_params)
            etag = qr.qr_etag(data, params)
            if etag in request.headers.get("If-None-Match", ""):
                response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
            else:
                body, content_type = qr.render_qr(data, params)
                response = HttpResponse(body, content_type=content_type)
        except qr.QRParameterError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        response["ETag"] = etag
        # Private: the image is behind authentication. A day is safe because
        # the ETag changes whenever the short URL or the rendering does.
        patch_cache_control(response, private=True, max_age=86400)
        return response

    @stats_schema
    @action(detail=True, methods=["get"], throttle_classes=[])
    def stats(self, request, short_code=None):
        link = self.get_object()
        days = _positive_int(request, "days", 30, 1, STATS_MAX_DAYS)
        today = timezone.now().date()
        return Response(
            {
                "short_code": link.short_code,
                "click_count": link.click_count,
                "last_access_at": serializers.DateTimeField().to_representation(
                    link.last_access_at
                )
                if link.last_access_at
                else None,
                "days": [
                    {"date": day.isoformat(), "clicks": clicks}
                    for day, clicks in link.clicks_by_day(days=days, today=today)
                ],
            }
        )

    @export_schema
    @action(
        detail=False,
        methods=["get"],
        url_path="export.csv",
        url_name="export",
        throttle_classes=[],
    )
    def export(self, request):
        return csv_download(self.get_queryset(), request)

    @bulk_schema
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        items = request.data
        if not isinstance(items, list):
            raise ValidationError({"non_field_errors": ["Send a JSON list of links."]})
        if not 1 <= len(items) <= BULK_MAX_ITEMS:
            raise ValidationError(
                {"non_field_errors": [f"Send 1 to {BULK_MAX_ITEMS} links at once."]}
            )
        atomic = request.query_params.get("atomic", "").lower() in ("1", "true", "yes")
        if atomic:
            return self._bulk_atomic(items)
        results = [self._bulk_item(index, item) for index, item in enumerate(items)]
        return self._bulk_response(results, status.HTTP_207_MULTI_STATUS)

    def _bulk_item(self, index, item):
        serializer = self.get_serializer(data=item)
        if not serializer.is_valid():
            return self._bulk_error(
                index,
                400,
                "validation_error",
                "The link has invalid fields.",
                serializer.errors,
            )
        try:
            serializer.save()
        except ShortCodeTaken as exc:
            return self._bulk_error(
                index, 409, "conflict", str(exc), {"short_code": [str(exc)]}
            )
        return {"index": index, "status": 201, "link": serializer.data}

    def _bulk_error(self, index, status_code, code, message, details):
        envelope = error_envelope(code, message, details, self.request)
        return {"index": index, "status": status_code, "error": envelope["error"]}

    def _bulk_atomic(self, items):
        with transaction.atomic():
            results = [self._bulk_item(index, item) for index, item in enumerate(items)]
            failed = [r for r in results if r["status"] != 201]
            if failed:
                transaction.set_rollback(True)
        if not failed:
            return self._bulk_response(results, status.HTTP_201_CREATED)
        # All or nothing: nothing was kept, so this is an error, in the
        # envelope, listing only the items that failed.
        conflicts_only = all(r["status"] == 409 for r in failed)
        status_code, code = (
            (409, "conflict") if conflicts_only else (400, "validation_error")
        )
        return Response(
            error_envelope(
                code,
                f"No link was created: {len(failed)} of {len(items)} items failed.",
                {"results": failed},
                self.request,
            ),
            status=status_code,
            headers={"Cache-Control": "no-store"},
        )

    def _bulk_response(self, results, status_code):
        created = sum(1 for r in results if r["status"] == 201)
        body = {
            "created": created,
            "failed": len(results) - created,
            "results": results,
        }
        return Response(body, status=status_code)
