"""Web UI forms. The rules themselves live in links.codes and links.targets;
these forms only collect input and attach the messages to their fields."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from links.codes import MAX_LENGTH, validate_short_code
from links.targets import MAX_TARGET_LENGTH, validate_target_url

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class _LinkFields(forms.Form):
    target_url = forms.CharField(
        label="Long URL",
        max_length=MAX_TARGET_LENGTH + 100,
        widget=forms.URLInput(
            attrs={
                "placeholder": "https://example.com/a/long/page",
                "autocomplete": "url",
            }
        ),
    )
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format=DATETIME_LOCAL
        ),
        help_text="Optional. After this moment the link answers 410 Gone.",
    )
    max_clicks = forms.IntegerField(
        label="Click limit",
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Optional. Stop redirecting after this many clicks.",
    )

    def __init__(self, *args, request_host=None, **kwargs):
        self.request_host = request_host
        super().__init__(*args, **kwargs)

    def clean_target_url(self):
        return validate_target_url(
            self.cleaned_data["target_url"], request_host=self.request_host
        )


class LinkCreateForm(_LinkFields):
    short_code = forms.CharField(
        label="Custom code",
        required=False,
        max_length=MAX_LENGTH,
        help_text="Optional. Letters, digits, - and _. Leave empty for a random code.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    field_order = ["target_url", "short_code", "expires_at", "max_clicks"]

    def clean_short_code(self):
        code = self.cleaned_data["short_code"].strip()
        if code:
            validate_short_code(code)
        return code or None

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise ValidationError("The expiry must be in the future.")
        return value


class LinkEditForm(_LinkFields):
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="Switch the link off without deleting it.",
    )

    @classmethod
    def for_link(cls, link, **kwargs):
        initial = {
            "target_url": link.target_url,
            "expires_at": link.expires_at,
            "max_clicks": link.max_clicks,
            "is_active": link.is_active,
        }
        return cls(initial=initial, **kwargs)
