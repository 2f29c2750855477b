"""Gauges about backups, restore tests and integrity checks, read when
Prometheus scrapes: the backups from the backup directory, the rest from
the database."""

import logging

from prometheus_client.core import GaugeMetricFamily

from opsconsole.health import check_database
from opsconsole.status import operations_facts

logger = logging.getLogger("tinylink.metrics")


class OperationsCollector:
    def collect(self):
        try:
            # Asked with the probe's short timeout first: with the database
            # down, the pool's own wait would outlast Prometheus's scrape
            # timeout. What is on disk (the backups) is exported regardless.
            facts = operations_facts(database=check_database() == "ok")
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on this
            logger.warning("metrics: could not read operations facts: %s", exc)
            return
        for name, help_text, value in facts:
            gauge = GaugeMetricFamily(name, help_text)
            if value is not None:
                gauge.add_metric([], value)
            yield gauge
