"""Clicks per link and UTC day (imported by links.models, where Django and
the rest of the code look for the app's models)."""

from django.db import models
from django.db.models import Q


class LinkDailyClicks(models.Model):
    """Clicks of one link on one UTC day: a time series without a row per click."""

    link = models.ForeignKey(
        "links.Link", on_delete=models.CASCADE, related_name="daily_clicks"
    )
    day = models.DateField()
    clicks = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "link daily clicks"
        constraints = [
            models.UniqueConstraint(
                fields=["link", "day"], name="daily_clicks_link_day"
            ),
            models.CheckConstraint(
                condition=Q(clicks__gte=0), name="daily_clicks_non_negative"
            ),
        ]
        # Clicks today / last 7 days across all links (admin summary).
        indexes = [models.Index(fields=["day"], name="daily_clicks_day")]

    def __str__(self):
        return f"{self.link_id} {self.day}: {self.clicks}"
