"""The /metrics endpoint: every app's counters (links' live in links/metrics.py)
plus the operations gauges, read from the database at scrape time.

Under gunicorn every worker has its own memory, so counters are kept in
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set and
emptied by deploy/gunicorn.conf.py) and summed at scrape time.
"""

import os

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from opsconsole.breaker import answers_without_database
from opsconsole.monitoring import monitoring_allowed, monitoring_refused
from opsconsole.opsmetrics import OperationsCollector


def _app_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _operations_registry():
    # Built per scrape, so the operations gauges are read from the database
    # at scrape time and never go stale in one worker's memory.
    registry = CollectorRegistry()
    registry.register(OperationsCollector())
    return registry


@answers_without_database
@never_cache
def metrics_view(request):
    if not monitoring_allowed(request):
        return monitoring_refused(
            request,
            "Metrics are only served to allowed networks or with the metrics token.",
        )
    body = generate_latest(_app_registry()) + generate_latest(_operations_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
