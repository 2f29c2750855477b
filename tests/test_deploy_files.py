"""No Docker engine runs here, so the container files are checked statically;
the entry point they name (gunicorn -c deploy/gunicorn.conf.py) is started for
real by the server tests."""

import json
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def test_dockerfile_uses_python_311_and_runs_as_a_non_root_user():
    instructions = list(dockerfile_instructions())
    assert instructions[0][0] == "FROM"
    assert instructions[0][1].startswith("python:3.11")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in ("root", "0")


def test_dockerfile_copies_only_paths_that_exist():
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


def test_dockerfile_runs_the_same_entry_point_as_make_serve():
    instructions = dict(dockerfile_instructions())
    assert json.loads(instructions["CMD"]) == [
        "gunicorn",
        "config.wsgi",
        "-c",
        "deploy/gunicorn.conf.py",
    ]
    entrypoint = json.loads(instructions["ENTRYPOINT"])[0]
    assert (ROOT / entrypoint).stat().st_mode & 0o111, "entrypoint not executable"
    makefile = (ROOT / "Makefile").read_text()
    assert "gunicorn config.wsgi -c deploy/gunicorn.conf.py" in makefile


def test_dockerfile_installs_the_lock_with_hashes_only():
    runs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs == ["pip install --require-hashes --no-deps -r requirements.lock"]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, f"not pinned exactly: {line}"


def test_dockerfile_base_image_is_pinned_to_a_patch_release():
    base = next(
        rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"
    )
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base)


def test_dockerfile_installs_a_postgresql_client_from_the_pgdg_repository():
    runs = " ".join(
        rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"
    )
    source = re.search(r"deb \[signed-by=(\S+)\] (\S+) bookworm-pgdg main", runs)
    assert source, "no signed-by apt source for apt.postgresql.org"
    assert source[2] == "https://apt.postgresql.org/pub/repos/apt"
    keyring = source[1]
    copies = [
        rest.split() for keyword, rest in dockerfile_instructions() if keyword == "COPY"
    ]
    [key_source] = [args[0] for args in copies if args[-1] == keyring]
    key = (ROOT / key_source).read_text()
    assert key.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    client = re.search(r"postgresql-client-(\d+)", runs)
    assert client
    assert int(client[1]) >= 17
    assert "--no-install-recommends" in runs
    assert "rm -rf /var/lib/apt/lists/*" in runs
    # The servers it supports are said where operators read.
    readme = (ROOT / "README.md").read_text()
    assert f"PostgreSQL client {client[1]}" in readme


def test_dockerfile_takes_the_commit_as_a_build_argument():
    instructions = list(dockerfile_instructions())
    args = [rest for keyword, rest in instructions if keyword == "ARG"]
    envs = [rest for keyword, rest in instructions if keyword == "ENV"]
    assert any(arg.startswith("GIT_COMMIT") for arg in args)
    assert "GIT_COMMIT=${GIT_COMMIT}" in envs
    labels = " ".join(rest for keyword, rest in instructions if keyword == "LABEL")
    for label in ("revision", "version", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_dockerfile_copies_pyproject_for_the_version():
    sources = [
        source
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY"
        for source in rest.split()[:-1]
    ]
    assert {"pyproject.toml", "requirements.lock"} <= set(sources)


# The files docs/deploy.md has operators create next to the examples.
SECRETS = [
    "deploy/tinylink.env",
    "deploy/postgres.env",
    "deploy/systemd/tinylink.env",
    "deploy/k8s/secret.yaml",
]


def dockerignored(path, patterns):
    """Docker's rule closely enough for these patterns: a pattern matches the
    path or one of its parent directories; ** spans directories."""
    parts = Path(path).parts
    candidates = [Path(*parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, str(candidate)) for candidate in candidates):
            return True
    return False


def dockerignore_patterns():
    return [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_no_secret_an_operator_creates_can_reach_the_image():
    patterns = dockerignore_patterns()
    sources = [
        source
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY"
        for source in rest.split()[:-1]
    ]
    for secret in SECRETS:
        assert dockerignored(secret, patterns), f"{secret} is sent to the build"
        copied = [s for s in sources if secret == s or secret.startswith(s + "/")]
        assert not copied, f"{secret} is copied by COPY {copied}"
    # The matcher itself, on what must and must not be ignored.
    assert dockerignored("links/__pycache__/x.pyc", ["**/__pycache__"])
    assert not dockerignored("deploy/gunicorn.conf.py", patterns)
    # Git never holds them either.
    gitignore = (ROOT / ".gitignore").read_text().split()
    for secret in SECRETS:
        assert secret in gitignore or str(Path(secret).parent / "*.env") in gitignore


def test_dockerignore_keeps_what_the_build_copies():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for kept in ("requirements.lock", "pyproject.toml", "deploy", "manage.py"):
        assert not any(
            Path(kept).match(pattern) or kept.startswith(pattern + "/")
            for pattern in ignored
        ), kept
    assert ".git" in ignored


def test_healthcheck_uses_only_the_standard_library():
    import ast
    import sys

    healthcheck = dict(dockerfile_instructions())["HEALTHCHECK"]
    command = re.search(r'CMD python -c "(.*)"$', healthcheck)[1]
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(command))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert modules
    assert modules <= sys.stdlib_module_names
    assert "/health/live" in command


def test_the_entrypoint_migrates_only_when_asked():
    script = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    migrate_lines = [
        line
        for line in script.splitlines()
        if "manage.py migrate" in line and not line.lstrip().startswith("#")
    ]
    assert migrate_lines == ["    true) python manage.py migrate --noinput ;;"]
    assert 'case "${MIGRATE_ON_START:-false}" in' in script


def test_gunicorn_config_reads_the_environment(monkeypatch, tmp_path):
    # The config sets PROMETHEUS_MULTIPROC_DIR when it is unset; set it here so
    # that monkeypatch removes it again and later tests see no multiprocess mode.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:9999")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.setenv("GUNICORN_THREADS", "1")
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert (config["bind"], config["workers"], config["threads"]) == (
        "0.0.0.0:9999",
        5,
        1,
    )
    assert config["worker_class"] == "sync"
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))[
        "worker_class"
    ] == ("gthread")


def _run_gunicorn_conf(script, env=None):
    """`script` in a fresh interpreter beside deploy/gunicorn.conf.py."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_worker_exit_in_the_master_imports_no_django():
    # gunicorn's master calls worker_exit for a worker that was already gone;
    # it has not loaded the app, and must not start importing it there.
    done = _run_gunicorn_conf(
        "import runpy, sys; "
        "conf = runpy.run_path('deploy/gunicorn.conf.py'); "
        "conf['worker_exit'](None, None); "
        "print(sorted(m for m in ('django', 'links.clickbuffer') if m in sys.modules))"
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_gunicorn_refuses_a_pool_too_small_for_its_threads():
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
        "GUNICORN_THREADS": "8",
        "DATABASE_POOL_MAX": "5",
    }
    load = "import runpy; runpy.run_path('deploy/gunicorn.conf.py')"
    done = _run_gunicorn_conf(load, env)
    assert done.returncode != 0
    assert "DATABASE_POOL_MAX=5 is too small for GUNICORN_THREADS=8" in done.stderr
    done = _run_gunicorn_conf(load, {**env, "DATABASE_POOL_MAX": "10"})
    assert done.returncode == 0, done.stderr


def run_entrypoint(tmp_path, **env):
    """deploy/docker-entrypoint.sh for real (sh), handing over to a command
    that prints the tables of a fresh SQLite database."""
    import subprocess
    import sys

    database = tmp_path / "entry.db"
    show_tables = (
        "import sqlite3, sys; "
        "print(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute("
        "\"SELECT name FROM sqlite_master WHERE type = 'table'\")))"
    )
    command = [sys.executable, "-c", show_tables, str(database)]
    return subprocess.run(
        ["sh", "deploy/docker-entrypoint.sh", *command],
        cwd=ROOT,
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "SECRET_KEY": "entrypoint-test",
            "DATABASE_URL": f"sqlite:///{database}",
            **env,
        },
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_the_entrypoint_does_not_migrate_by_default(tmp_path):
    done = run_entrypoint(tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


@pytest.mark.slow
def test_the_entrypoint_migrates_first_with_migrate_on_start(tmp_path):
    done = run_entrypoint(tmp_path, MIGRATE_ON_START="true")
    assert done.returncode == 0, done.stderr
    assert "'django_migrations'" in done.stdout
    assert "'links_link'" in done.stdout


def test_the_entrypoint_refuses_an_unclear_migrate_on_start(tmp_path):
    done = run_entrypoint(tmp_path, MIGRATE_ON_START="yes please")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "MIGRATE_ON_START must be true or false, not 'yes please'"
    )
    assert done.stdout == ""


def ci_workflow():
    import yaml

    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


def test_ci_workflow_runs_make_test_against_its_services_then_builds():
    [job] = ci_workflow()["jobs"].values()
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for service in services.values():
        assert "--health-cmd" in service["options"]
    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup"))
    assert python["with"]["python-version"] == "3.11"
    runs = [step.get("run", "") for step in steps]
    [install] = [run for run in runs if "apt-get install" in run]
    for package in ("nginx-light", "prometheus", "wrk"):
        assert package in install.split()
    [test] = [step for step in steps if step.get("run") == "make test"]
    assert test["env"]["CI"] == "true"
    assert test["env"]["PG_URL"] == "postgres://postgres@127.0.0.1:5432"
    # The browser tests need a Chromium-like browser where they look for one.
    assert test["env"]["CHROMIUM_PATH"].startswith("/")
    builds = [run for run in runs if "docker build" in run]
    assert len(builds) == 1
    assert "--build-arg GIT_COMMIT=${{ github.sha }}" in builds[0]
    assert runs.index(builds[0]) > runs.index("make test")


def test_ci_workflow_calls_only_make_targets_that_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):", makefile, re.MULTILINE))
    runs = " ".join(
        step.get("run", "")
        for job in ci_workflow()["jobs"].values()
        for step in job["steps"]
    )
    called = re.findall(r"\bmake ([\w-]+)", runs)
    assert called
    assert set(called) <= targets


def test_license_and_changelog():
    import tomllib

    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 TinyLink")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    with open(ROOT / "pyproject.toml", "rb") as file:
        current = tomllib.load(file)["project"]["version"]
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert headings[:2] == ["Unreleased", current]
    assert "(docs/deploy.md#upgrade-and-rollback)" in changelog
