"""The links admin's add and change form."""

from django import forms

from links.codes import GENERATED_LENGTH
from links.targets import validate_target_url


class LinkAdminForm(forms.ModelForm):
    # The host the admin is served on, set per request by LinkAdmin.get_form.
    request_host = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Both fields are only on the add form (read-only, or left out, when
        # changing); a blank one is filled in as the API and the web UI do.
        code = self.fields.get("short_code")
        if code is not None:
            code.required = False
            code.help_text = (
                f"Leave blank for a generated {GENERATED_LENGTH}-character "
                f"code. {code.help_text}"
            )
        owner = self.fields.get("owner")
        if owner is not None and self.instance._state.adding:
            owner.help_text = "Leave blank to own the link yourself."

    def clean_target_url(self):
        # The same rules as the model's validator (which runs afterwards
        # without a host), plus the host the admin was reached on: with
        # ALLOWED_HOSTS = "*" no setting names it.
        return validate_target_url(
            self.cleaned_data["target_url"], request_host=self.request_host
        )
