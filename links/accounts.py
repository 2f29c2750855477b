"""The sign-in pages around Django's auth views.

Password reset by email is offered only when email can be sent (EMAIL_URL,
config/mail.py); without it the reset page says how else to get a new
password. A reset whose email could not be sent says so, never "we've emailed
you". Signing out takes a POST; a GET (a typed or bookmarked address) gets a
page with the button instead of an empty 405.
"""

import logging
from urllib.parse import urlsplit

from axes.utils import reset as reset_sign_in_failures
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMessage, get_connection
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string

from config.mail import DUMMY_BACKEND

log = logging.getLogger("tinylink.email")

SEND_FAILED = (
    "The email could not be sent: the mail server did not accept it. Nothing "
    "was sent. Please try again later, or ask an administrator to set a new "
    "password for you."
)


def email_can_be_sent():
    return settings.EMAIL_BACKEND != DUMMY_BACKEND


class SignInView(auth_views.LoginView):
    def get_context_data(self, **kwargs):
        return super().get_context_data(password_reset=email_can_be_sent(), **kwargs)


class SignOutView(auth_views.LogoutView):
    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")


class _ResetForm(PasswordResetForm):
    """Sends over the connection the view opened, and lets a failure reach
    the view (Django's form logs it and carries on as if sent)."""

    connection = None

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        EmailMessage(
            subject, body, from_email, [to_email], connection=self.connection
        ).send()


class _NeedsEmail:
    def dispatch(self, request, *args, **kwargs):
        if not email_can_be_sent():
            return render(request, "registration/password_reset_unavailable.html")
        return super().dispatch(request, *args, **kwargs)


class PasswordResetView(_NeedsEmail, auth_views.PasswordResetView):
    form_class = _ResetForm

    def form_valid(self, form):
        # The connection is opened before the address is looked up, so a mail
        # server that is down fails every request alike and the answer tells
        # nobody whether the address has an account.
        connection = get_connection(fail_silently=False)
        try:
            with connection:
                form.connection = connection
                form.save(request=self.request, **self._link_options())
        except OSError as exc:  # smtplib's errors, refused, timed out, TLS
            log.error(
                "password reset email not sent: %s: %s", exc.__class__.__name__, exc
            )
            form.add_error(None, SEND_FAILED)
            response = self.render_to_response(
                self.get_context_data(form=form), status=503
            )
            response._has_been_logged = True  # above, in one line
            return response
        return HttpResponseRedirect(self.get_success_url())

    def _link_options(self):
        """Where the emailed link points: PUBLIC_BASE_URL when set (behind a
        proxy the request may not know its public scheme), else the request."""
        base = urlsplit(settings.PUBLIC_BASE_URL)
        if base.netloc:
            return {"domain_override": base.netloc, "use_https": base.scheme == "https"}
        return {"use_https": self.request.is_secure()}


class PasswordResetDoneView(_NeedsEmail, auth_views.PasswordResetDoneView):
    def get_context_data(self, **kwargs):
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        return super().get_context_data(reset_hours=hours, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever reads the account's mailbox has shown who they are: the new
        # password works at once, even after a lock-out by user name (one by
        # client address stays: that one counts everybody's failures).
        reset_sign_in_failures(username=form.user.get_username())
        return response
