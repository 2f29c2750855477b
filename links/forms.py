"""Web UI forms. The rules themselves live in links.codes and links.targets;
these forms only collect input and attach the messages to their fields."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from links.codes import MAX_LENGTH, RESERVED_CODES, validate_short_code
from links.targets import MAX_TARGET_LENGTH, validate_target_url

DATE = "%Y-%m-%d"
TIME = "%H:%M"
PAST_EXPIRY = (
    "The expiry must be in the future. To stop the link now, untick Active instead."
)


class ExpiryWidget(forms.SplitDateTimeWidget):
    def value_from_datadict(self, data, files, name):
        # A form posted by a script with one "2030-12-31T18:00" value (the
        # datetime-local this used to be) is read as both halves, not dropped.
        if f"{name}_0" not in data and name in data:
            date, _, time = data[name].replace("T", " ").partition(" ")
            return [date, time]
        return super().value_from_datadict(data, files, name)


class ExpiryField(forms.SplitDateTimeField):
    """A date input and a time input, not one datetime-local: a half-filled
    datetime-local reaches the server as "" (the browser drops what it cannot
    parse), so "date without time" would silently mean "never". Two inputs
    arrive as typed, and a missing half is an error kept with the other."""

    widget = ExpiryWidget(
        date_format=DATE,
        time_format=TIME,
        date_attrs={"type": "date", "aria-label": "Expiry date (UTC)"},
        time_attrs={"type": "time", "aria-label": "Expiry time (UTC)"},
    )

    def __init__(self, **kwargs):
        super().__init__(
            input_date_formats=[DATE],
            input_time_formats=[TIME, "%H:%M:%S"],
            error_messages={
                "invalid_date": "Enter a date like 2030-12-31.",
                "invalid_time": "Enter a time like 18:00.",
            },
            **kwargs,
        )

    def compress(self, data_list):
        if data_list and (data_list[0] is None) != (data_list[1] is None):
            missing = "a time" if data_list[1] is None else "a date"
            raise ValidationError(
                f"Enter {missing} as well, or clear both for no expiry.",
                code="incomplete",
            )
        return super().compress(data_list)


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
    expires_at = ExpiryField(
        label="Expires (UTC)",
        required=False,
        help_text="Optional: a date and a time. After this moment the link "
        "answers 410 Gone.",
    )
    max_clicks = forms.IntegerField(
        label="Click limit",
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Optional. Stop redirecting after this many clicks.",
    )

    def __init__(self, *args, request_host=None, link=None, **kwargs):
        self.request_host = request_host
        # The link being edited, or None when creating one.
        self.link = link
        super().__init__(*args, **kwargs)

    def clean_target_url(self):
        return validate_target_url(
            self.cleaned_data["target_url"], request_host=self.request_host
        )

    # One rule for create and edit: a value the owner sets must not end the
    # link the moment it is saved. A value left as it was is no new mistake
    # (an expired link may still get a new target), so only changes count.
    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        stored = self.link.expires_at if self.link else None
        # The form shows minutes; an expiry set to the second (by the API)
        # comes back without its seconds: unchanged, so the stored moment is
        # kept (saving it cut to the minute could expire the link at once).
        if stored is not None and value == stored.replace(second=0, microsecond=0):
            return stored
        if value is not None and value <= timezone.now():
            raise ValidationError(PAST_EXPIRY, code="past_expiry")
        return value

    def clean_max_clicks(self):
        value = self.cleaned_data["max_clicks"]
        clicks = self.link.click_count if self.link else 0
        stored = self.link.max_clicks if self.link else None
        if value is not None and value != stored and value <= clicks:
            raise ValidationError(
                f"The link has {clicks} click{'s' if clicks != 1 else ''} already: "
                f"a limit of {value} would stop it at once. Set more than "
                f"{clicks}, or untick Active to stop it now.",
                code="limit_reached",
            )
        return value


class LinkCreateForm(_LinkFields):
    short_code = forms.CharField(
        label="Custom code",
        required=False,
        max_length=MAX_LENGTH,
        help_text=(
            "Optional. Letters, digits, - and _. Leave empty for a random code. "
            "Reserved for TinyLink's own pages: "
            + ", ".join(sorted(RESERVED_CODES))
            + "."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    field_order = ["target_url", "short_code", "expires_at", "max_clicks"]

    def clean_short_code(self):
        code = self.cleaned_data["short_code"].strip()
        if code:
            validate_short_code(code)
        return code or None


class LinkEditForm(_LinkFields):
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="Switch the link off without deleting it.",
    )

    @classmethod
    def for_link(cls, link, data=None, **kwargs):
        initial = {
            "target_url": link.target_url,
            "expires_at": link.expires_at,
            "max_clicks": link.max_clicks,
            "is_active": link.is_active,
        }
        return cls(data, initial=initial, link=link, **kwargs)
