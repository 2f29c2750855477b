"""The demo data of docs/img/screenshots.py (`make screenshots`), written on
the test database; the browser part runs only with `make screenshots`."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Max, Min, Sum
from django.utils import timezone

from docs.img.screenshots import CLICK_DAYS, seed_demo
from links.models import Link, LinkState

# What the README's captions and the pictures rely on.
EXPECTED_STATES = {
    "handbook": LinkState.ACTIVE,
    "old-page": LinkState.INACTIVE,
    "webinar": LinkState.EXPIRED,
    "beta": LinkState.EXHAUSTED,
    "launch": LinkState.ACTIVE,
    "promo": LinkState.ACTIVE,
    "survey": LinkState.ACTIVE,
    "jobs": LinkState.ACTIVE,
}


@pytest.mark.django_db
def test_demo_data_has_every_state_and_clicks_that_add_up():
    now = timezone.now()
    links = seed_demo(now=now)

    assert {code: link.state_at(now) for code, link in links.items()} == (
        EXPECTED_STATES
    )
    alice = get_user_model().objects.get(username="alice")
    assert Link.objects.owned_by(alice).count() == len(EXPECTED_STATES)
    assert get_user_model().objects.get(username="admin").is_superuser
    assert links["promo"].max_clicks > links["promo"].click_count > 0
    for code, link in links.items():
        days = link.daily_clicks.aggregate(
            total=Sum("clicks"), first=Min("day"), last=Max("day")
        )
        assert (days["total"] or 0) == link.click_count, code
        if not link.click_count:
            assert link.last_access_at is None, code
            continue
        # The chart ends on the day of the last click, which came before
        # the link stopped redirecting and after it was made.
        assert days["last"] == link.last_access_at.date(), code
        assert link.created_at <= link.last_access_at <= now, code
        assert days["first"] > days["last"] - timedelta(days=CLICK_DAYS), code
        if link.expires_at and link.expires_at <= now:
            assert link.last_access_at < link.expires_at, code
    assert links["launch"].daily_clicks.count() > 7
