"""Gauges about backups, restore tests and integrity checks, read from the
database when Prometheus scrapes. Filled in by the data-operations work."""

import logging

from prometheus_client.core import GaugeMetricFamily

from opsconsole.status import operations_facts

logger = logging.getLogger("tinylink.metrics")


class OperationsCollector:
    def collect(self):
        try:
            facts = operations_facts()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on this
            logger.warning("metrics: could not read operations facts: %s", exc)
            return
        for name, help_text, value in facts:
            gauge = GaugeMetricFamily(name, help_text)
            if value is not None:
                gauge.add_metric([], value)
            yield gauge
