"""/metrics: the operations gauges (backups, restore tests, integrity, the
worker, the run queue, the database), present even without a value."""

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from opsconsole.opsmetrics import operations_gauges
from tests.servers import http_request


def test_operations_gauges_are_exported_even_without_a_value(client, db):
    response = client.get("/metrics")
    families = {
        family.name: family
        for family in text_string_to_metric_families(response.content.decode())
    }
    facts = operations_gauges()
    assert "tinylink_backup_last_success_timestamp_seconds" in [f[0] for f in facts]
    for name, help_text, fact in facts:
        assert families[name].type == "gauge"
        assert families[name].documentation == help_text
        if fact is None:
            assert families[name].samples == []


OPERATIONS_GAUGES = {
    "tinylink_backup_last_success_timestamp_seconds",
    "tinylink_backup_last_size_bytes",
    "tinylink_restore_test_last_success",
    "tinylink_restore_test_last_timestamp_seconds",
    "tinylink_restore_test_last_rto_seconds",
    "tinylink_integrity_check_last_success",
    "tinylink_opsworker_last_heartbeat_timestamp_seconds",
    "tinylink_opsworkers_alive",
    "tinylink_ops_schedules_overdue",
    "tinylink_ops_runs_queued",
    "tinylink_ops_runs_running",
    "tinylink_ops_runs_failed_last_24h",
    "tinylink_database_size_bytes",
    "tinylink_database_up",
}
POOL_GAUGES = {
    "tinylink_db_pool_connections",
    "tinylink_db_pool_idle_connections",
    "tinylink_db_pool_max_connections",
    "tinylink_db_pool_requests_waiting",
}


@pytest.mark.slow
def test_a_live_scrape_exports_every_operations_gauge(gunicorn_server):
    status, _, body = http_request(f"{gunicorn_server.url}/metrics")
    assert status == 200
    families = {
        family.name: family
        for family in text_string_to_metric_families(body.decode())
        if family.name.startswith(
            (
                "tinylink_backup",
                "tinylink_restore",
                "tinylink_integrity",
                "tinylink_ops",
                "tinylink_database",
                "tinylink_db_",
            )
        )
    }
    expected = OPERATIONS_GAUGES | (
        POOL_GAUGES if connection.vendor == "postgresql" else set()
    )
    assert set(families) == expected
    assert all(family.type == "gauge" for family in families.values())
    samples = {
        sample.name: sample.value
        for family in families.values()
        for sample in family.samples
    }
    # No worker in the test database: what the alert fires on.
    assert samples["tinylink_opsworkers_alive"] == 0
    assert samples["tinylink_database_size_bytes"] > 0
    assert samples["tinylink_database_up"] == 1
    if connection.vendor == "postgresql":
        # The pool of the worker that answered: it holds this request's
        # connection at least.
        assert samples["tinylink_db_pool_connections"] >= 1


def test_free_disk_space_is_exported_per_directory_with_the_health_floor(
    client, db, settings, tmp_path
):
    settings.HEALTH_MIN_FREE_DISK_MB = 7
    settings.BACKUP_STORE_URL = ""
    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_STAGING_DIR = tmp_path / "not-created-yet"
    families = {
        family.name: family
        for family in text_string_to_metric_families(
            client.get("/metrics").content.decode()
        )
    }
    free = {
        sample.labels["directory"]: sample.value
        for sample in families["tinylink_disk_free_bytes"].samples
    }
    # The staging directory does not exist yet: no sample rather than an error.
    assert set(free) == {"data", "backups"}
    assert all(value > 0 for value in free.values())
    assert families["tinylink_disk_free_min_bytes"].samples[0].value == 7 * 2**20


# --- Several gunicorn workers ---------------------------------------------------------
