"""deploy/k8s/, checked statically: no cluster here."""

import math
import re

from django.core.management import load_command_class
from django.urls import resolve

from tests.deploy.envfiles import (
    K8S,
    containers,
    dockerfile_env,
    k8s_environment,
    k8s_object,
    k8s_objects,
    yaml_documents,
)

# The current stable API of each kind used.
STABLE = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}
IMAGE_PORT = int(dockerfile_env()["GUNICORN_BIND"].rpartition(":")[2])


def web():
    return k8s_object("Deployment", "tinylink-web")


def worker():
    return k8s_object("Deployment", "tinylink-worker")


def test_every_manifest_parses_with_a_stable_api_version():
    kinds = [(obj["kind"], obj["apiVersion"]) for _, obj in k8s_objects()]
    assert {kind for kind, _ in kinds} >= set(STABLE) - {"Namespace"}
    for kind, api in kinds:
        if kind != "Kustomization":
            assert STABLE[kind] == api, kind


def test_the_kustomization_lists_every_manifest():
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    listed = set(kustomization["resources"])
    shipped = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    # secret.yaml is the operator's copy of the example (git-ignored); the
    # restore Job is applied by hand, never with the rest.
    examples = {p.name for p in K8S.glob("*.example.yaml")}
    assert examples == {"secret.example.yaml", "restore-job.example.yaml"}
    assert listed == (shipped - examples) | {"secret.yaml"}
    assert "secret.yaml" in (K8S / ".gitignore").read_text().split()


def test_probes_ask_paths_the_urlconf_has():
    (container,) = containers(web())
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert resolve(probes["livenessProbe"]["path"]).url_name == "health-live"
    assert resolve(probes["startupProbe"]["path"]).url_name == "health-live"
    assert resolve(probes["readinessProbe"]["path"]).url_name == "health-ready"
    assert {probe["port"] for probe in probes.values()} == {"http"}


def test_the_ports_agree_with_the_service_and_gunicorn_bind():
    (container,) = containers(web())
    assert container["ports"] == [{"name": "http", "containerPort": IMAGE_PORT}]
    service = k8s_object("Service", "tinylink")
    assert service["spec"]["selector"] == web()["spec"]["selector"]["matchLabels"]
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]
    assert "GUNICORN_BIND" not in k8s_environment()  # the image's is used


def test_prometheus_scrapes_every_web_pod_not_the_service():
    annotations = web()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(IMAGE_PORT)
    assert resolve(annotations["prometheus.io/path"]).url_name == "metrics"
    service = k8s_object("Service", "tinylink")
    assert "prometheus.io/scrape" not in service["metadata"].get("annotations", {})


def test_web_pods_are_non_root_with_a_read_only_root_and_a_writable_tmp():
    pod = web()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    (container,) = containers(web())
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = "/tmp"  # noqa: S108 - the container's, an emptyDir
    assert "emptyDir" in volumes[mounts[tmp]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith(tmp + "/")
    limits = container["resources"]["limits"]
    assert {"cpu", "memory"} <= set(limits)
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])


def test_the_autoscaler_runs_2_to_10_web_pods():
    hpa = k8s_object("HorizontalPodAutoscaler", "tinylink-web")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["scaleTargetRef"]["name"] == "tinylink-web"
    assert "replicas" not in web()["spec"]  # the autoscaler owns it


def test_exactly_one_worker_replaced_never_rolled():
    spec = worker()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    (container,) = containers(worker())
    assert container["command"] == ["python", "manage.py", "opsworker"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 3600
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in spec["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == [k8s_object("PersistentVolumeClaim", "tinylink-backups")[
        "metadata"]["name"]]  # fmt: skip
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["backups"] == k8s_environment()["BACKUP_DIR"]


def test_migrations_run_once_in_a_job():
    job = k8s_object("Job", "tinylink-migrate")
    (container,) = containers(job)
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_connection_budget_fits_the_documented_max_connections():
    env = k8s_environment()
    (container,) = containers(web())
    cpu = container["resources"]["limits"]["cpu"]
    cpus = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    # gunicorn's default from the CPU limit; WEB_CONCURRENCY would win.
    workers = int(env.get("WEB_CONCURRENCY") or min(2 * math.ceil(cpus) + 1, 8))
    pool = int(env["DATABASE_POOL_MAX"])
    # At the HPA's maximum a rolling update runs maxSurge pods more.
    hpa = k8s_object("HorizontalPodAutoscaler", "tinylink-web")["spec"]
    surge = web()["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    pods = hpa["maxReplicas"] + int(surge)
    text = (K8S / "configmap.yaml").read_text()
    documented = int(re.search(r"max_connections = (\d+)", text)[1])
    # README.md's formula: + the worker's pool, + 1 pg_dump, + 1 migrate,
    # and PostgreSQL keeps 3 for superusers.
    assert pods * workers * pool + pool + 1 + 1 <= documented - 3
    assert pool >= int(env["GUNICORN_THREADS"]) + 2


def backup_store_claims(deployment):
    """The claims mounted at BACKUP_DIR in each container of a Deployment."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    backup_dir = k8s_environment()["BACKUP_DIR"]
    return [
        volumes[m["name"]].get("persistentVolumeClaim", {}).get("claimName")
        for container in containers(deployment)
        for m in container.get("volumeMounts", [])
        if m["mountPath"] == backup_dir
    ]


def test_every_scraped_deployment_sees_the_workers_backup_store():
    # /metrics (the backup-age alert) and /health/full read the backups of
    # the pod Prometheus scrapes: an emptyDir there means "no backup, ever".
    if k8s_environment().get("BACKUP_STORE_URL"):
        return  # S3: every pod reads the same bucket
    (worker_claim,) = backup_store_claims(worker())
    assert worker_claim is not None
    scraped = [
        obj
        for _, obj in k8s_objects()
        if obj["kind"] == "Deployment"
        and obj["spec"]["template"]["metadata"]
        .get("annotations", {})
        .get("prometheus.io/scrape")
        == "true"
    ]
    assert scraped  # the web pods, at least
    for deployment in scraped:
        name = deployment["metadata"]["name"]
        assert backup_store_claims(deployment) == [worker_claim], name
    # Several pods on several nodes mount it at once.
    claim = k8s_object("PersistentVolumeClaim", worker_claim)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (web_container,) = containers(web())
    backup_dir = k8s_environment()["BACKUP_DIR"]
    (mount,) = [
        m for m in web_container["volumeMounts"] if m["mountPath"] == backup_dir
    ]
    assert mount["readOnly"] is True  # only the worker writes backups


def test_the_s3_alternative_is_offered_where_the_pods_read_it():
    config = (K8S / "configmap.yaml").read_text()
    secret = (K8S / "secret.example.yaml").read_text()
    assert re.search(r"^  # BACKUP_STORE_URL: s3://", config, re.M)
    assert re.search(r"^  # AWS_ACCESS_KEY_ID: ", secret, re.M)
    assert re.search(r"^  # AWS_SECRET_ACCESS_KEY: ", secret, re.M)


def test_the_restore_job_mounts_the_backups_and_runs_a_real_restore():
    job = k8s_object("Job", "tinylink-restore")
    (container,) = containers(job)
    program, manage, command, *options = container["command"]
    assert (program, manage, command) == ("python", "manage.py", "restore")
    # Every option is one `manage.py restore` accepts, and it asks nothing.
    parser = load_command_class("opsconsole", "restore").create_parser(
        "manage.py", "restore"
    )
    parsed = parser.parse_args(options)
    assert parsed.latest is True
    assert parsed.interactive is False
    (claim,) = backup_store_claims(job)
    assert claim == backup_store_claims(worker())[0]
    backup_dir = k8s_environment()["BACKUP_DIR"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == backup_dir]
    assert not mount.get("readOnly")  # the safety copy goes there first
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    assert {"configMapRef": {"name": "tinylink-config"}} in container["envFrom"]
    assert {"secretRef": {"name": "tinylink-secrets"}} in container["envFrom"]
