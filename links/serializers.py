"""The API's link representation. Validation rules live in links.codes and
links.targets; this module only maps them onto request fields."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from links.codes import validate_short_code
from links.models import Link
from links.targets import MAX_TARGET_LENGTH, validate_target_url


class UTCDateTimeField(serializers.DateTimeField):
    """A date-time that also survives conversion to UTC: 9999-12-31T23:59-05:00
    parses, then overflows; that is the client's error, not a 500."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("invalid", format="a date between years 1 and 9999 in UTC")


def _django_errors(exc):
    return serializers.ValidationError(list(exc.messages))


class LinkSerializer(serializers.Serializer):
    short_code = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Custom alias; omit for a generated 7-character code. "
        "Cannot be changed after creation.",
    )
    short_url = serializers.SerializerMethodField()
    target_url = serializers.CharField(max_length=MAX_TARGET_LENGTH)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    expires_at = UTCDateTimeField(required=False, allow_null=True)
    max_clicks = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2_147_483_647
    )
    click_count = serializers.IntegerField(read_only=True)
    last_access_at = serializers.DateTimeField(read_only=True, allow_null=True)
    is_active = serializers.BooleanField(required=False)
    state = serializers.SerializerMethodField()
    qr_url = serializers.SerializerMethodField()

    def get_short_url(self, link) -> str:
        return link.short_url(self.context.get("request"))

    def get_state(self, link) -> str:
        return link.state_at(self.context.get("now") or timezone.now()).value

    def get_qr_url(self, link) -> str:
        path = reverse("api:link-qr", kwargs={"short_code": link.short_code})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a JSON object."]}
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        # Unknown fields are refused, not ignored: a typo such as "expires"
        # would otherwise succeed silently without setting anything.
        errors = {
            str(name): ["Unknown or read-only field."] for name in set(data) - writable
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors = {**exc.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_target_url(self, value):
        request = self.context.get("request")
        try:
            return validate_target_url(
                value, request_host=request.get_host() if request else None
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None

    def validate_short_code(self, value):
        if self.instance is not None:
            if value != self.instance.short_code:
                raise serializers.ValidationError(
                    "A short code cannot be changed: printed links and QR codes "
                    "would break. Create a new link instead."
                )
            return value
        try:
            validate_short_code(value)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return value

    def validate_expires_at(self, value):
        # A new link that is born expired is a mistake; an existing link may be
        # expired on purpose by moving its expiry into the past.
        if self.instance is None and value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value

    def create(self, validated_data):
        return Link.objects.create_link(
            owner=self.context.get("owner"), **validated_data
        )

    def update(self, link, validated_data):
        validated_data.pop("short_code", None)
        for name, value in validated_data.items():
            setattr(link, name, value)
        link.save()
        return link


class LinkStatsDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    clicks = serializers.IntegerField()


class LinkStatsSerializer(serializers.Serializer):
    short_code = serializers.CharField()
    click_count = serializers.IntegerField()
    last_access_at = serializers.DateTimeField(allow_null=True)
    days = LinkStatsDaySerializer(many=True)


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField()
    link = LinkSerializer(required=False)
    error = serializers.DictField(required=False)


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)
