"""Every variable the deployment files set is one TinyLink reads, and the
documented production environments pass `check --deploy` for real."""

import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest

from tests.deploy.envfiles import (
    DEPLOY,
    ROOT,
    compose,
    containers,
    dockerfile_env,
    env_file,
    env_file_names,
    k8s_environment,
    k8s_objects,
)
from tests.servers import PERSISTENT_DIR

READ = re.compile(
    r"""(?:\benv(?:\.\w+)?\(|os\.environ\.get\(|os\.environ\.setdefault\("""
    r"""|os\.environ\[|os\.getenv\()\s*["']([A-Z][A-Z0-9_]*)["']"""
)
# Read by others: the postgres image, boto3 (django-storages' S3), libpq.
READ_BY_OTHERS = re.compile(r"^(POSTGRES_\w+|AWS_\w+|PG\w+)$")
SOURCES = [
    *ROOT.glob("config/*.py"),
    ROOT / "deploy" / "gunicorn.conf.py",
    *ROOT.glob("links/**/*.py"),
    *ROOT.glob("opsconsole/**/*.py"),
]


def names_the_app_reads():
    return {name for path in SOURCES for name in READ.findall(path.read_text())}


def names_set():
    """{file: names} of every environment the deployment files give."""
    found = {
        "tinylink.env.example": env_file_names(DEPLOY / "tinylink.env.example"),
        "postgres.env.example": env_file_names(DEPLOY / "postgres.env.example"),
        "systemd/tinylink.env.example": env_file_names(
            DEPLOY / "systemd" / "tinylink.env.example"
        ),
        "k8s ConfigMap and Secret": set(k8s_environment()),
    }
    for file in ("compose.yaml", "compose.sqlite.yaml"):
        for name, spec in compose(file)["services"].items():
            found[f"{file} {name}"] = set(spec.get("environment", {}))
    for file, obj in k8s_objects():
        if obj["kind"] in ("Deployment", "Job"):
            for container in containers(obj):
                found[f"k8s/{file}"] = {e["name"] for e in container.get("env", [])}
    for path in (DEPLOY / "k8s").glob("secret.example.yaml"):
        found["k8s/secret.example.yaml"] = set(
            re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*):", path.read_text(), re.M)
        )
    return found


def test_the_reader_finds_the_apps_variables():
    # So that the test below cannot pass by finding nothing.
    expected = {"SECRET_KEY", "DATABASE_URL", "GUNICORN_BIND", "WEB_CONCURRENCY"}
    expected |= {"BACKUP_SIGNING_KEY", "GIT_COMMIT", "CACHE_URL"}
    assert expected <= names_the_app_reads()


def test_every_variable_set_for_deployment_is_one_tinylink_reads():
    known = names_the_app_reads()
    unknown = {
        where: sorted(n for n in names - known if not READ_BY_OTHERS.match(n))
        for where, names in names_set().items()
    }
    assert {where: names for where, names in unknown.items() if names} == {}


def production(values, data_dir):
    """A documented environment with real secrets for its CHANGE_ME
    placeholders, and this host's directories for its data paths (which
    `check` creates)."""
    env = {}
    for name, value in values.items():
        if "CHANGE_ME" in value:
            value = value.replace("CHANGE_ME", secrets.token_urlsafe(50))
        for prefix in ("/srv/tinylink/", "/data/", "sqlite:////data/"):
            if value.startswith(prefix):
                scheme = "sqlite:///" if prefix.startswith("sqlite") else ""
                value = scheme + str(data_dir / value.removeprefix(prefix))
        env[name] = str(data_dir) if value == "/data" else value
    return env


@pytest.fixture
def data_dir():
    # Persistent, not under /tmp: opsconsole.W001 warns of a database there.
    path = PERSISTENT_DIR / f"deploy-check-{os.getpid()}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_deploy(env):
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


ENVIRONMENTS = {
    # The image's ENV (DATA_DIR=/data ...) under the compose env_file.
    "compose": lambda: {
        **dockerfile_env(),
        **env_file(DEPLOY / "tinylink.env.example"),
    },
    "compose.sqlite": lambda: {
        **dockerfile_env(),
        **env_file(DEPLOY / "tinylink.env.example"),
        **compose("compose.sqlite.yaml")["services"]["app"]["environment"],
    },
    "systemd": lambda: env_file(DEPLOY / "systemd" / "tinylink.env.example"),
    "k8s": lambda: {**dockerfile_env(), **k8s_environment()},
}


@pytest.mark.slow
@pytest.mark.parametrize("where", sorted(ENVIRONMENTS))
def test_check_deploy_is_clean_with_the_documented_environment(where, data_dir):
    env = production(ENVIRONMENTS[where](), data_dir)
    env.setdefault("DATA_DIR", str(data_dir))
    # No path of the target host is left for `check` to create here.
    assert not [v for v in env.values() if re.match(r"(sqlite:///)?/(data|srv)\b", v)]
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
