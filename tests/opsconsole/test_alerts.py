"""deploy/prometheus and deploy/grafana: promtool checks the rules, the scrape
configs and the rules' unit tests; every runbook link lands on a heading;
every metric an alert or a dashboard panel reads is exported by a live
gunicorn's /metrics. promtool is Debian's (apt-get install prometheus);
without it these tests skip, and with CI=true they fail."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from links.models import Link
from tests.opsconsole.helpers import manage
from tests.opsconsole.promql import metric_names
from tests.servers import ROOT, GunicornServer, http_request, poll

PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "tinylink.json"
RUNBOOKS = ROOT / "docs" / "alerts.md"
SEVERITIES = {"critical", "warning", "info"}
# Prometheus's own series, not TinyLink's.
PROMETHEUS_OWN = {"up"}
POOL_GAUGES = {
    "tinylink_db_pool_connections",
    "tinylink_db_pool_idle_connections",
    "tinylink_db_pool_max_connections",
    "tinylink_db_pool_requests_waiting",
}


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which(os.environ.get("PROMTOOL", "promtool"))
    if path is None:
        reason = "promtool not found (apt-get install -y prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the alert rules cannot be checked: {reason}")
        pytest.skip(f"PROMTOOL TESTS SKIPPED: {reason}")
    return path


def run(promtool, *args, cwd=PROMETHEUS):
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def rules():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


# --- promtool ----------------------------------------------------------------------


def test_promtool_accepts_the_rules(promtool):
    done = run(promtool, "check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_rules_unit_tests_pass(promtool):
    done = run(promtool, "test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test_that_sees_it_fire():
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for group in tests
        for case in group["alert_rule_test"]
        if case["exp_alerts"]
    }
    silent = {
        case["alertname"]
        for group in tests
        for case in group["alert_rule_test"]
        if not case["exp_alerts"]
    }
    alerts = {rule["alert"] for rule in rules()}
    assert fired == alerts
    assert silent == alerts


def _config_with_a_token_file(tmp_path, name):
    # promtool checks that the bearer token file exists: a copy that points
    # at one, beside the rules it loads.
    token = tmp_path / "token"
    token.write_text("secret\n")
    text = (PROMETHEUS / name).read_text()
    text = text.replace("/etc/prometheus/tinylink-metrics-token", str(token))
    (tmp_path / name).write_text(text)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    return tmp_path / name


def test_promtool_accepts_the_host_scrape_config(promtool, tmp_path):
    config = _config_with_a_token_file(tmp_path, "prometheus.yml")
    done = run(promtool, "check", "config", config.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 11 rules found" in done.stdout


def test_promtool_accepts_the_kubernetes_scrape_config(promtool, tmp_path):
    config = _config_with_a_token_file(tmp_path, "prometheus-kubernetes.yml")
    done = run(promtool, "check", "config", config.name, cwd=tmp_path)
    if "field kubernetes_sd_configs not found" in done.stdout + done.stderr:
        # Debian builds Prometheus without Kubernetes discovery: everything
        # else (relabelling, auth, rules) is checked with the discovery
        # swapped for a static target.
        parsed = yaml.safe_load(config.read_text())
        (job,) = parsed["scrape_configs"]
        assert job["kubernetes_sd_configs"] == [
            {"role": "pod", "namespaces": {"names": ["tinylink"]}}
        ]
        job["static_configs"] = [{"targets": ["10.0.0.1:8000"]}]
        del job["kubernetes_sd_configs"]
        config.write_text(yaml.safe_dump(parsed))
        done = run(promtool, "check", "config", config.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_pods_are_scraped_by_their_annotations_as_job_tinylink():
    parsed = yaml.safe_load((PROMETHEUS / "prometheus-kubernetes.yml").read_text())
    (job,) = parsed["scrape_configs"]
    assert job["job_name"] == "tinylink"
    assert job["authorization"]["credentials_file"]
    sources = {
        label
        for rule in job["relabel_configs"]
        for label in rule.get("source_labels", [])
    }
    for annotation in ("scrape", "port", "path"):
        assert f"__meta_kubernetes_pod_annotation_prometheus_io_{annotation}" in sources
    keep = job["relabel_configs"][0]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    host = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert [job["job_name"] for job in host["scrape_configs"]] == ["tinylink"]


# --- The rules themselves ------------------------------------------------------------


def github_anchor(heading):
    """GitHub's anchor for a Markdown heading: lower case, punctuation other
    than - and _ dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_github_anchor_follows_githubs_rules():
    assert github_anchor("TinyLinkDiskLow") == "tinylinkdisklow"
    assert github_anchor("Port in use (`Address already in use`)") == (
        "port-in-use-address-already-in-use"
    )
    assert github_anchor("SEV1: users affected") == "sev1-users-affected"


def anchors(path):
    return {
        github_anchor(line.lstrip("#"))
        for line in path.read_text().splitlines()
        if re.match(r"#{1,6} ", line)
    }


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_alert_has_a_severity_text_and_a_runbook_that_exists(rule):
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"]
    assert annotations["description"]
    page, _, anchor = annotations["runbook_url"].partition("#")
    assert (ROOT / page).resolve() == RUNBOOKS
    assert anchor in anchors(RUNBOOKS), f"no heading for #{anchor} in {page}"
    assert rule["expr"].count('job="tinylink"') >= 1


def test_the_runbooks_links_into_operations_md_land_on_headings():
    links = re.findall(r"\(operations\.md#([^)]+)\)", RUNBOOKS.read_text())
    assert links
    assert set(links) <= anchors(ROOT / "docs" / "operations.md")


def test_the_metric_name_parser_finds_names_and_skips_promql():
    expr = (
        'sum by (job, le) (rate(foo_bucket{a="b", c=~"x|y"}[5m])) / on (job) '
        "group_left max by (job) (bar) > 2e-3 * 26 * 3600 "
        'or absent(baz{job="t"}) offset 5m unless qux[$__rate_interval]'
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "baz", "qux"}
    assert metric_names("time() - max(tinylink_x)") == {"tinylink_x"}
    # A misspelt name is a name: the live test below then finds it missing.
    assert metric_names("rate(tinylink_redirect_total[5m])") == {
        "tinylink_redirect_total"
    }


# --- The dashboard -------------------------------------------------------------------


def test_the_dashboard_is_an_importable_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert [item["name"] for item in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid)
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
    titles = " ".join(panel["title"].lower() for panel in panels)
    for subject in (
        "requests",
        "latency",
        "redirects",
        "links created",
        "backup",
        "restore test",
        "rto",
        "database size",
        "heartbeat",
        "alive",
        "clicks",
        "pool",
    ):
        assert subject in titles


# --- Against a live server -----------------------------------------------------------


def scrape(server):
    status, _, body = http_request(server.url + "/metrics")
    assert status == 200
    return [
        sample
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    ]


def exported_samples(server):
    return {sample.name for sample in scrape(server)}


@pytest.fixture
def busy_server(transactional_db, tmp_path, settings):
    """A gunicorn that has redirected, answered a 404, and sees a backup,
    a restore test and an integrity check: every gauge has a sample."""
    settings.BACKUP_DIR = tmp_path / "backups"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for command in (["backup"], ["restore_test", "--latest"], ["check_integrity"]):
        done = manage(*command, env={"BACKUP_STORE_URL": "", "TMPDIR": str(scratch)})
        assert done.returncode == 0, done.stderr[-2000:]
    Link.objects.create(short_code="metric", target_url="https://example.com/")
    server = GunicornServer(
        tmp_path,
        workers=2,
        threads=2,
        extra_env={"BACKUP_DIR": str(settings.BACKUP_DIR), "BACKUP_STORE_URL": ""},
    )
    server.start(wait_path="/health/ready")
    try:
        assert http_request(server.url + "/metric")[0] in (301, 302, 307, 308)
        assert http_request(server.url + "/no-such-code")[0] == 404
        yield server
    finally:
        server.stop()


def latency_views(server):
    return {
        sample.labels["view"]
        for sample in scrape(server)
        if sample.name == "django_http_requests_latency_seconds_by_view_method_count"
    }


@pytest.mark.slow
def test_every_metric_in_the_alerts_and_the_dashboard_is_exported(busy_server):
    exprs = [rule["expr"] for rule in rules()] + dashboard_exprs()
    used = set()
    for expr in exprs:
        used |= metric_names(expr)
    used -= PROMETHEUS_OWN
    if connection.vendor != "postgresql":
        used -= POOL_GAUGES  # SQLite has no connection pool
    # The fast path's request metrics are written every half second.
    missing = poll(lambda: used - exported_samples(busy_server), set())
    assert missing == set(), busy_server.log()[-2000:]

    # The latency objective is about what users wait for: the scrapes and
    # probes are answered before any view (HealthProbeMiddleware), so they
    # never reach the by-view histogram, and the rule's exclusion (kept for
    # a URLconf that routes them to views) leaves every user-facing view in.
    (excluded,) = {m for expr in exprs for m in re.findall(r'view!~"([^"]+)"', expr)}
    views = latency_views(busy_server)
    assert "links:redirect" in views
    assert not {view for view in views if view.startswith("opsconsole:")}
    assert not {view for view in views if re.fullmatch(excluded, view)}
    assert re.fullmatch(excluded, "opsconsole:metrics")
