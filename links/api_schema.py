"""OpenAPI documentation of the links API (drf-spectacular), kept apart from
the views so that api.py reads as behaviour."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from links.errors import UNAVAILABLE_MESSAGE
from links.serializers import (
    BulkResponseSerializer,
    LinkSerializer,
    LinkStatsSerializer,
)


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "links.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, from `manage.py create_api_token USER`.",
        }


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()
    request_id = serializers.CharField(required=False)


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def _error(status, code, message, details=None):
    return OpenApiResponse(
        ErrorEnvelopeSerializer,
        description=message,
        examples=[
            OpenApiExample(
                code,
                value={
                    "error": {
                        "code": code,
                        "message": message,
                        "details": details or {},
                    }
                },
                response_only=True,
                status_codes=[str(status)],
            )
        ],
    )


E400 = _error(
    400,
    "validation_error",
    "The request has invalid fields.",
    {
        "target_url": [
            "Only http:// and https:// URLs can be shortened, not 'javascript:' URLs."
        ]
    },
)
E401 = _error(401, "not_authenticated", "Authentication credentials were not provided.")
E404 = _error(404, "not_found", "Not found.")
E409 = _error(
    409,
    "conflict",
    "The short code 'docs2' is already taken.",
    {"short_code": ["The short code 'docs2' is already taken."]},
)
E413 = _error(413, "payload_too_large", "The request body is too large.")
E415 = _error(
    415, "unsupported_media_type", 'Unsupported media type "text/plain" in request.'
)
E429 = _error(429, "throttled", "Too many requests; slow down.", {"retry_after": 42})
E503 = _error(503, "unavailable", UNAVAILABLE_MESSAGE)
COMMON = {401: E401, 429: E429, 503: E503}

LINK_EXAMPLE = {
    "short_code": "docs2",
    "short_url": "https://sho.rt/docs2",
    "target_url": "https://example.com/documentation",
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z",
    "expires_at": "2026-12-31T23:59:59Z",
    "max_clicks": None,
    "click_count": 12,
    "last_access_at": "2026-11-23T11:30:00Z",
    "is_active": True,
    "state": "active",
    "qr_url": "https://sho.rt/api/links/docs2/qr",
}
CREATE_EXAMPLES = [
    OpenApiExample(
        "generated code",
        request_only=True,
        value={"target_url": "https://example.com/documentation"},
    ),
    OpenApiExample(
        "custom alias with expiry",
        request_only=True,
        value={
            "target_url": "https://example.com/documentation",
            "short_code": "docs2",
            "expires_at": "2026-12-31T23:59:59Z",
            "max_clicks": 100,
        },
    ),
    OpenApiExample("link", response_only=True, value=LINK_EXAMPLE),
]
UPDATE_EXAMPLES = [
    OpenApiExample("clear expiry", request_only=True, value={"expires_at": None}),
    OpenApiExample(
        "new target", request_only=True, value={"target_url": "https://example.com/v2"}
    ),
    OpenApiExample("link", response_only=True, value=LINK_EXAMPLE),
]
CODE_PARAM = OpenApiParameter(
    "short_code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[A-Za-z0-9_-]{1,64}$",
)

link_viewset_schema = extend_schema_view(
    list=extend_schema(
        summary="List links",
        description="Your links (staff: all links), newest first, 50 a page.",
        parameters=[
            OpenApiParameter("q", str, description="Substring of code or target."),
            OpenApiParameter(
                "state", str, enum=["active", "expired", "exhausted", "inactive"]
            ),
            OpenApiParameter(
                "ordering",
                str,
                enum=[
                    f"{sign}{name}"
                    for name in (
                        "created_at",
                        "updated_at",
                        "expires_at",
                        "click_count",
                        "last_access_at",
                        "short_code",
                    )
                    for sign in ("", "-")
                ],
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description="Links a page, default 50; values above 500 give 500.",
            ),
        ],
        responses={200: LinkSerializer(many=True), 400: E400, 404: E404, **COMMON},
    ),
    create=extend_schema(
        summary="Create a link",
        description="Omit short_code for a generated 7-character code.",
        examples=CREATE_EXAMPLES,
        responses={
            201: LinkSerializer,
            400: E400,
            409: E409,
            413: E413,
            415: E415,
            **COMMON,
        },
    ),
    retrieve=extend_schema(
        summary="Get a link",
        parameters=[CODE_PARAM],
        responses={200: LinkSerializer, 404: E404, **COMMON},
        examples=[OpenApiExample("link", value=LINK_EXAMPLE)],
    ),
    update=extend_schema(
        summary="Update a link (partial bodies accepted)",
        description="Same as PATCH: TinyLink+ clients send partial PUT bodies. "
        "short_code cannot be changed.",
        parameters=[CODE_PARAM],
        examples=UPDATE_EXAMPLES,
        responses={200: LinkSerializer, 400: E400, 404: E404, **COMMON},
    ),
    partial_update=extend_schema(
        summary="Update some fields of a link",
        parameters=[CODE_PARAM],
        examples=UPDATE_EXAMPLES,
        responses={200: LinkSerializer, 400: E400, 404: E404, **COMMON},
    ),
    destroy=extend_schema(
        summary="Delete a link",
        parameters=[CODE_PARAM],
        description="Afterwards the link's detail, redirect and QR code are 404.",
        responses={204: None, 404: E404, **COMMON},
    ),
)

qr_schema = extend_schema(
    summary="QR code of the short URL",
    parameters=[
        CODE_PARAM,
        OpenApiParameter("format", str, enum=["png", "svg"]),
        OpenApiParameter(
            "size",
            {"type": "integer", "minimum": 64, "maximum": 2048},
            description="Pixels, 64 to 2048 (default 256).",
        ),
        OpenApiParameter(
            "border",
            {"type": "integer", "minimum": 0, "maximum": 16},
            description="Quiet zone in modules, 0 to 16 (default 4).",
        ),
    ],
    responses={
        (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG"),
        (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR, description="SVG"),
        304: OpenApiResponse(description="Not modified (If-None-Match)"),
        400: _error(
            400,
            "validation_error",
            "The request has invalid fields.",
            {"size": ["size must be a whole number of pixels from 64 to 2048."]},
        ),
        404: E404,
        **COMMON,
    },
)

stats_schema = extend_schema(
    summary="Clicks per UTC day",
    parameters=[
        CODE_PARAM,
        OpenApiParameter(
            "days",
            {"type": "integer", "minimum": 1, "maximum": 366},
            description="UTC days ending today, 1 to 366 (default 30).",
        ),
    ],
    responses={200: LinkStatsSerializer, 400: E400, 404: E404, **COMMON},
    examples=[
        OpenApiExample(
            "stats",
            response_only=True,
            value={
                "short_code": "docs2",
                "click_count": 12,
                "last_access_at": "2026-11-23T11:30:00Z",
                "days": [
                    {"date": "2026-11-22", "clicks": 5},
                    {"date": "2026-11-23", "clicks": 7},
                ],
            },
        )
    ],
)

export_schema = extend_schema(
    summary="Export your links as CSV (streamed)",
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="short_code,short_url,target_url,created_at,expires_at,"
            "max_clicks,click_count,last_access_at,is_active; cells starting with "
            "= + - @ are prefixed with ' against spreadsheet formula injection.",
        ),
        **COMMON,
    },
)

bulk_schema = extend_schema(
    summary="Create up to 1,000 links",
    description=(
        "Default: each item is created or refused on its own; the answer is "
        "207 Multi-Status with one result per item (status 201 + link, or "
        "400/409 + error). With ?atomic=true: all items are created (201) or "
        "none is (400, or 409 when every failure is a taken code), the error "
        "envelope listing the failed items in details.results."
    ),
    parameters=[OpenApiParameter("atomic", bool)],
    request=inline_serializer(
        "BulkCreate",
        fields={
            "target_url": serializers.CharField(),
            "short_code": serializers.CharField(required=False),
            "expires_at": serializers.DateTimeField(required=False, allow_null=True),
            "max_clicks": serializers.IntegerField(required=False, allow_null=True),
        },
        many=True,
    ),
    responses={
        201: BulkResponseSerializer,
        207: BulkResponseSerializer,
        400: E400,
        409: E409,
        413: E413,
        **COMMON,
    },
    examples=[
        OpenApiExample(
            "two links",
            request_only=True,
            value=[
                {"target_url": "https://example.com/a"},
                {"target_url": "https://example.com/b", "short_code": "b"},
            ],
        ),
        OpenApiExample(
            "mixed result",
            response_only=True,
            status_codes=["207"],
            value={
                "created": 1,
                "failed": 1,
                "results": [
                    {"index": 0, "status": 201, "link": LINK_EXAMPLE},
                    {
                        "index": 1,
                        "status": 409,
                        "error": {
                            "code": "conflict",
                            "message": "The short code 'b' is already taken.",
                            "details": {
                                "short_code": ["The short code 'b' is already taken."]
                            },
                        },
                    },
                ],
            },
        ),
    ],
)
