from datetime import timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import IntegrityError, connections, models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from links.codes import MAX_LENGTH, generate_code, validate_short_code
from links.metrics import LINKS_CREATED, LINKS_DELETED, LINKS_UPDATED
from links.targets import (
    MAX_TARGET_LENGTH,
    ascii_target_url,
    describe_host,
    validate_target_url,
)

# Defined in their own modules; imported here, where Django and the rest of
# the code look for the app's models.
# isort: split
from links.daily import LinkDailyClicks  # noqa: F401
from links.lookup import COUNTER_FIELDS, LinkVersion, links_changed  # noqa: F401
from links.tokens import ApiToken, ApiTokenQuerySet  # noqa: F401

# Fresh codes tried before giving up: 8 misses in 62**7 mean something is wrong.
GENERATE_ATTEMPTS = 8


# Written only by the clicks (and restores), never by save().


class ShortCodeTaken(Exception):
    """The requested custom short code belongs to another link."""

    def __init__(self, short_code):
        super().__init__(f"The short code '{short_code}' is already taken.")
        self.short_code = short_code


class LinkState(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    INACTIVE = "inactive"


def _not_expired(now):
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _not_exhausted():
    return Q(max_clicks__isnull=True) | Q(click_count__lt=F("max_clicks"))


def grants_every_link(user, action):
    """May `user` "view", "change" or "delete" every user's links? Only with
    Django's model permission (a superuser has them all); the staff flag only
    opens the admin. Change implies view, as in the admin."""
    return user.has_perm(f"links.{action}_link") or (
        action == "view" and user.has_perm("links.change_link")
    )


class LinkQuerySet(models.QuerySet):
    # The states partition the links: each link is in exactly one of them,
    # with inactive before expired before exhausted (as Link.state_at orders).
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(Q(is_active=True), _not_expired(now), _not_exhausted())

    def expired(self, now=None):
        now = now or timezone.now()
        return self.filter(is_active=True, expires_at__lte=now)

    def exhausted(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(is_active=True),
            _not_expired(now),
            max_clicks__isnull=False,
            click_count__gte=F("max_clicks"),
        )

    def inactive(self):
        return self.filter(is_active=False)

    def in_state(self, state, now=None):
        if state == LinkState.INACTIVE:
            return self.inactive()
        return getattr(self, LinkState(state).value)(now)

    def delete(self):
        deleted, by_model = super().delete()
        LINKS_DELETED.inc(by_model.get(self.model._meta.label, 0))
        return deleted, by_model

    # Every write a redirect would notice reaches the lookup caches (deletes
    # through the post_delete signal, which cascades send too).
    def update(self, **kwargs):
        changed = super().update(**kwargs)
        if changed and not COUNTER_FIELDS.issuperset(kwargs):
            links_changed(self.db)
        return changed

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        links_changed(self.db)
        return created

    def owned_by(self, user):
        return self.filter(owner=user)

    # Whose links a user reaches, decided here for the API, the web UI and
    # the admin alike (Link.permits decides it for one link in hand).
    def visible_to(self, user):
        return self._permitted(user, "view")

    def editable_by(self, user):
        return self._permitted(user, "change")

    def deletable_by(self, user):
        return self._permitted(user, "delete")

    def _permitted(self, user, action):
        if not user.is_authenticated:
            return self.none()
        if grants_every_link(user, action):
            return self
        return self.owned_by(user)

    # Bulk changes (admin actions) bypass save(); they count as updates here.
    def set_active(self, active, now=None):
        """Activate or deactivate; returns how many links changed."""
        changed = self.exclude(is_active=active).update(
            is_active=active, updated_at=now or timezone.now()
        )
        LINKS_UPDATED.inc(changed)
        return changed

    def extend_expiry(self, days, now=None):
        """Give `days` more life; returns how many links changed.

        "Extend" never shortens a life: links without an expiry keep none.
        An expired link gets `days` from now (so it redirects again), a
        running one `days` on top of its current expiry.
        """
        now = now or timezone.now()
        delta = timedelta(days=days)
        changed = self.filter(expires_at__isnull=False).update(
            expires_at=models.Case(
                models.When(expires_at__gt=now, then=F("expires_at") + delta),
                default=models.Value(now + delta),
            ),
            updated_at=now,
        )
        LINKS_UPDATED.inc(changed)
        return changed

    def planner_estimate(self):
        """PostgreSQL's estimate of the rows in this unfiltered queryset, or
        None where there is no usable one: a filtered queryset (no statistic
        knows that number), a table never analysed, or SQLite.

        PostgreSQL has no cheap exact COUNT(*): MVCC makes it visit every row
        (or every index entry), about 150 ms per million links and growing
        with the table. Its planner statistics already hold a row estimate,
        pg_class.reltuples, kept fresh by autovacuum's ANALYZE; for an
        unfiltered list of a large table that estimate is as useful as the
        exact number.

        SQLite keeps no such number (sqlite_stat1 exists only after a manual
        ANALYZE and is never refreshed), and needs none: its COUNT(*) walks
        the smallest index of one local file, about a millisecond for a
        million links (docs/performance.md). So SQLite always counts exactly.
        """
        query = self.query
        if (
            query.where
            or query.distinct
            or query.combinator
            or query.is_sliced
            or query.group_by
        ):
            return None
        connection = connections[self.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(self.model._meta.db_table)],
            )
            row = cursor.fetchone()
        # -1 means "never vacuumed or analysed" (PostgreSQL 14+).
        if row is None or row[0] < 0:
            return None
        return row[0]

    def create_link(self, *, target_url, short_code=None, **fields):
        """Validate and insert one link; a generated code when none is given.
        A taken custom code raises ShortCodeTaken (see Link.insert_new)."""
        if isinstance(target_url, str):
            target_url = target_url.strip()
        link = self.model(target_url=target_url, short_code=short_code or "", **fields)
        # Uniqueness is left to the insert below: a check here would race.
        # The check constraints are enforced by the database and mirrored by
        # the field validators; validating them here would cost a query each.
        link.full_clean(
            exclude=None if short_code else ["short_code"],
            validate_unique=False,
            validate_constraints=False,
        )
        link.insert_new()
        return link


class Link(models.Model):
    short_code = models.CharField(
        max_length=MAX_LENGTH,
        unique=True,
        validators=[validate_short_code],
        help_text="Case-sensitive: 'abc' and 'ABC' are different links.",
    )
    target_url = models.CharField(
        max_length=MAX_TARGET_LENGTH, validators=[validate_target_url]
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_clicks = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1, "A click limit is at least 1.")],
        help_text="Stop redirecting after this many clicks.",
    )
    click_count = models.BigIntegerField(default=0, editable=False)
    last_access_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="links",
    )

    objects = LinkQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(short_code=""), name="link_short_code_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(click_count__gte=0), name="link_click_count_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(max_clicks__isnull=True) | Q(max_clicks__gte=1),
                name="link_max_clicks_positive",
            ),
        ]
        indexes = [
            # "My links", newest first: the web UI's and the API's default list.
            models.Index(fields=["owner", "-created_at"], name="link_owner_created"),
            # The admin's "inactive" filter: few rows, found without a scan.
            models.Index(
                fields=["-created_at"],
                condition=Q(is_active=False),
                name="link_inactive_created",
            ),
            # expired() and sorting by expiry; the id orders the many ties.
            models.Index(fields=["expires_at", "id"], name="link_expires_id"),
        ]

    def __str__(self):
        return f"{self.short_code} → {self.target_url}"

    def save(self, *args, **kwargs):
        # The counters belong to the redirect, which increments them in the
        # database. A full save of an instance read earlier would write its
        # stale counts back and lose every click since; so updates leave the
        # counters out unless a caller names them in update_fields.
        updating = not self._state.adding
        if updating and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in COUNTER_FIELDS
            ]
        super().save(*args, **kwargs)
        (LINKS_UPDATED if updating else LINKS_CREATED).inc()

    def get_absolute_url(self):
        return reverse("links:redirect", kwargs={"code": self.short_code})

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        LINKS_DELETED.inc()
        return result

    def permits(self, user, action):
        """May `user` "view", "change" or "delete" this link? The rule of
        LinkQuerySet.visible_to and its siblings, without a query."""
        return user.is_authenticated and (
            self.owner_id == user.pk or grants_every_link(user, action)
        )

    def clean_fields(self, exclude=None):
        super().clean_fields(exclude)
        # The field's validator can only refuse; the form it accepts is kept
        # here, so an international host is stored as it is followed.
        if not exclude or "target_url" not in exclude:
            self.target_url = ascii_target_url(self.target_url)

    @property
    def target_host(self):
        """The target's international host (links.targets.TargetHost), or
        None for a plain ASCII one."""
        return describe_host(self.target_url)

    def state_at(self, now):
        if not self.is_active:
            return LinkState.INACTIVE
        if self.expires_at is not None and self.expires_at <= now:
            return LinkState.EXPIRED
        if self.max_clicks is not None and self.click_count >= self.max_clicks:
            return LinkState.EXHAUSTED
        return LinkState.ACTIVE

    @property
    def state(self):
        return self.state_at(timezone.now())

    def is_expired(self, now=None):
        return self.state_at(now or timezone.now()) == LinkState.EXPIRED

    def short_url(self, request=None):
        """Absolute short URL: PUBLIC_BASE_URL, else the requesting host."""
        path = self.get_absolute_url()
        if settings.PUBLIC_BASE_URL:
            return settings.PUBLIC_BASE_URL + path
        if request is not None:
            return request.build_absolute_uri(path)
        return path

    def clicks_by_day(self, *, days, today):
        """[(date, clicks)] for the `days` UTC days ending today, zero-filled."""
        start = today - timedelta(days=days - 1)
        counts = dict(
            self.daily_clicks.filter(day__gte=start, day__lte=today).values_list(
                "day", "clicks"
            )
        )
        series = (start + timedelta(days=offset) for offset in range(days))
        return [(day, counts.get(day, 0)) for day in series]

    def insert_new(self):
        """Insert this link, generating a free code if it has none.

        The unique constraint decides races: a taken custom code raises
        ShortCodeTaken, a colliding generated code is replaced and retried,
        up to GENERATE_ATTEMPTS times.
        """
        if self.short_code:
            self.save_new_code_or_raise()
            return
        for _ in range(GENERATE_ATTEMPTS):
            self.short_code = generate_code()
            try:
                self.save_new_code_or_raise()
            except ShortCodeTaken:
                continue
            return
        raise RuntimeError(
            f"No free short code after {GENERATE_ATTEMPTS} attempts; "
            "the code space may be nearly full."
        )

    def save_new_code_or_raise(self):
        """Insert this link; ShortCodeTaken if its code exists already."""
        try:
            # A savepoint, so a collision does not poison an outer transaction.
            with transaction.atomic():
                self.save(force_insert=True)
        except IntegrityError:
            if type(self).objects.filter(short_code=self.short_code).exists():
                raise ShortCodeTaken(self.short_code) from None
            raise
