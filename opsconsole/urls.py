from django.urls import path

from opsconsole import debug, health, metrics

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/full", health.full, name="health-full"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("debug/version", debug.version_view, name="debug-version"),
    path(
        "debug/database-stats", debug.database_stats_view, name="debug-database-stats"
    ),
]
