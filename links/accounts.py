"""The sign-in pages around Django's auth views.

Password reset by email is offered only when email can be sent (EMAIL_URL,
config/mail.py) and the emailed link has an address of its own
(PUBLIC_BASE_URL: a link built from the request's Host would point wherever
the asker's Host header says, with ALLOWED_HOSTS=* or a wildcard). Without
them the reset page says how else to get a new password. A mail server that
cannot be reached is said on the page, never "we've emailed you"; what
happens to one address's message is not (it would tell who has an account).
Signing out takes a POST; a GET (a typed or bookmarked address) gets a page
with the button instead of an empty 405.
"""

import hashlib
import logging
import smtplib
from urllib.parse import urlsplit

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMessage, get_connection
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string

from config.mail import CONSOLE_BACKEND, DUMMY_BACKEND
from links.clientip import client_ip
from links.ratelimit import Rate, hit

log = logging.getLogger("tinylink.email")

SEND_FAILED = (
    "The email could not be sent: the mail server did not accept it. Nothing "
    "was sent. Please try again later, or ask an administrator to set a new "
    "password for you."
)
# Per client address and per email address: enough for a typo and a lost
# email or two, too few to fill a mailbox or a mail server's quota.
RESET_RATE = Rate(limit=5, period=3600)


def email_can_be_sent():
    return settings.EMAIL_BACKEND != DUMMY_BACKEND


def reset_link_base(request):
    """The start of the emailed reset link (scheme, host and any path, as
    Link.short_url uses PUBLIC_BASE_URL), or None when reset by email is not
    offered. The request's own host only in development, where the console
    shows the email to whoever runs the server."""
    if not email_can_be_sent():
        return None
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if settings.DEBUG and settings.EMAIL_BACKEND == CONSOLE_BACKEND:
        return f"{request.scheme}://{request.get_host()}"
    return None


class SignInView(auth_views.LoginView):
    def get_context_data(self, **kwargs):
        offered = reset_link_base(self.request) is not None
        return super().get_context_data(password_reset=offered, **kwargs)


class SignOutView(auth_views.LogoutView):
    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")


def _describe(exc):
    """The failure without the server's text, which may quote the address."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"{exc.__class__.__name__} {codes}"
    code = getattr(exc, "smtp_code", None)
    return exc.__class__.__name__ + (f" {code}" if code else "")


class _ResetForm(PasswordResetForm):
    """Sends over the connection the view opened. A message the server
    refuses is logged by user id and otherwise passed over: the page must
    not answer differently for an address that has an account."""

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
        message = EmailMessage(
            subject, body, from_email, [to_email], connection=self.connection
        )
        try:
            message.send()
        except OSError as exc:  # smtplib's errors: refused, dropped, timed out
            log.error(
                "password reset email to user %s not sent: %s",
                context["user"].pk,
                _describe(exc),
            )


class _NeedsEmail:
    def dispatch(self, request, *args, **kwargs):
        if reset_link_base(request) is None:
            return render(
                request,
                "registration/password_reset_unavailable.html",
                {"email_configured": email_can_be_sent()},
            )
        return super().dispatch(request, *args, **kwargs)


class PasswordResetView(_NeedsEmail, auth_views.PasswordResetView):
    form_class = _ResetForm

    def form_valid(self, form):
        done = HttpResponseRedirect(self.get_success_url())
        if self._over_limit(form.cleaned_data["email"]):
            return done
        # The connection is opened before the address is looked up, so a mail
        # server that is down fails every request alike and the answer tells
        # nobody whether the address has an account.
        connection = get_connection(fail_silently=False)
        try:
            connection.open()
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
        base = reset_link_base(self.request)
        form.connection = connection
        try:
            form.save(
                request=self.request,
                domain_override=urlsplit(base).netloc,
                extra_email_context={"base_url": base},
            )
        finally:
            _close(connection)
        return done

    def _over_limit(self, email):
        """RESET_RATE per client and per address, both counted on every
        request; over either, nothing is sent and the answer is the usual
        one, so the limit tells nobody about accounts either."""
        client = client_ip(self.request)
        # The address is hashed: the cache need not hold who asked.
        address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        over = [
            name
            for name, wait in [
                ("client", hit("reset-client", client, RESET_RATE)),
                ("email address", hit("reset-address", address, RESET_RATE)),
            ]
            if wait
        ]
        if over:
            log.warning(
                "password reset not sent: over the limit of %s an hour for the %s "
                "(client %s)",
                RESET_RATE.limit,
                " and the ".join(over),
                client,
            )
        return bool(over)


def _close(connection):
    try:
        connection.close()
    except OSError as exc:  # the server hung up first: nothing left to do
        log.warning("mail connection not closed cleanly: %s", _describe(exc))


class PasswordResetDoneView(_NeedsEmail, auth_views.PasswordResetDoneView):
    def get_context_data(self, **kwargs):
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        return super().get_context_data(reset_hours=hours, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        _lift_user_name_lock(form.user.get_username())
        return response


def _lift_user_name_lock(username):
    """Whoever reads the account's mailbox has shown who they are: the new
    password works at once, even after a lock-out by user name. A lock of a
    client address stays: axes keeps one row per (user name, address, user
    agent) and counts an address's lock over its rows, so the rows lose
    their user name (as failures without one have none) rather than being
    deleted, which would also free the address that made the failures."""
    AccessAttempt.objects.filter(username=username).update(username=None)
