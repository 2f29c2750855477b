"""deploy/compose.yaml and compose.sqlite.yaml, checked statically (no Docker
engine here); the entry points they name are run for real by other tests."""

import re
import shlex

from django.urls import resolve

from tests.deploy.envfiles import DEPLOY, ROOT, compose, dockerfile_env, env_file

TINYLINK = ("migrate", "app", "opsworker")


def test_compose_wires_app_worker_postgres_redis_and_a_one_off_migrate():
    services = compose()["services"]
    assert set(services) == {"db", "redis", *TINYLINK}
    assert services["db"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in TINYLINK:
        assert services[name]["build"]["context"] == ".."
        assert (DEPLOY / services[name]["build"]["context"] / "Dockerfile").is_file()
    assert services["migrate"]["command"] == [
        "python", "manage.py", "migrate", "--noinput"
    ]  # fmt: skip
    assert services["migrate"]["restart"] == "no"
    assert services["opsworker"]["command"] == ["python", "manage.py", "opsworker"]


def test_app_and_worker_start_after_healthy_services_and_migrations():
    services = compose()["services"]
    for name in ("app", "opsworker"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in str(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_app_healthcheck_asks_the_live_probe_on_the_images_port():
    for name in ("compose.yaml", "compose.sqlite.yaml"):
        app = compose(name)["services"]["app"]
        test = app["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"]
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", test[3])
        port = dockerfile_env()["GUNICORN_BIND"].rpartition(":")[2]
        assert url[1] == port
        assert resolve(url[2]).url_name == "health-live"
        assert app["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_every_service_rotates_its_logs():
    for name in ("compose.yaml", "compose.sqlite.yaml"):
        for service, spec in compose(name)["services"].items():
            logging = spec.get("logging", {})
            assert logging.get("driver") == "json-file", (name, service)
            assert {"max-size", "max-file"} <= set(logging["options"]), service


def test_named_volumes_for_database_data_and_shared_backups():
    spec = compose()
    assert set(spec["volumes"]) == {"postgres-data", "app-data", "backups"}
    services = spec["services"]
    assert "postgres-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    for name in ("app", "opsworker"):
        assert "backups:/data/backups" in services[name]["volumes"]
    assert env_file(DEPLOY / "tinylink.env.example")["BACKUP_DIR"] == "/data/backups"


def test_every_env_file_named_is_shipped_as_an_example():
    for name in ("compose.yaml", "compose.sqlite.yaml"):
        for spec in compose(name)["services"].values():
            if "env_file" in spec:
                assert (DEPLOY / (spec["env_file"] + ".example")).is_file()


def test_the_connection_budget_fits_postgresqls_max_connections():
    spec = compose()
    env = env_file(DEPLOY / "tinylink.env.example")
    command = " ".join(spec["services"]["db"]["command"])
    max_connections = int(re.search(r"max_connections=(\d+)", command)[1])
    replicas = spec["services"]["app"].get("deploy", {}).get("replicas", 1)
    pool = int(env["DATABASE_POOL_MAX"])
    web = replicas * int(env["WEB_CONCURRENCY"]) * pool
    # README.md's formula: + worker, + its pg_dump, + migrate; 3 for superusers.
    assert web + pool + 1 + 1 <= max_connections - 3
    # gunicorn refuses a smaller pool (deploy/gunicorn.conf.py).
    assert pool >= int(env["GUNICORN_THREADS"]) + 2


def test_the_database_password_is_the_same_in_both_env_files():
    url = env_file(DEPLOY / "tinylink.env.example")["DATABASE_URL"]
    db = env_file(DEPLOY / "postgres.env.example")
    assert url == (
        f"postgres://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@db:5432/"
        f"{db['POSTGRES_DB']}"
    )


def test_the_sqlite_variant_has_no_postgresql_or_redis_and_keeps_data_on_a_volume():
    spec = compose("compose.sqlite.yaml")
    assert set(spec["services"]) == set(TINYLINK)
    for name in TINYLINK:
        service = spec["services"][name]
        env = service["environment"]
        assert env["DATABASE_URL"] == "sqlite:////data/app.db"
        assert env["CACHE_URL"].startswith("locmemcache://")
        # One process: locmem rate limits stay exact (opsconsole.W004).
        assert env["WEB_CONCURRENCY"] == "1"
        assert service["volumes"] == ["data:/data"]
    assert set(spec["volumes"]) == {"data"}


def test_compose_usage_lines_name_files_that_exist():
    for name in ("compose.yaml", "compose.sqlite.yaml"):
        for line in (DEPLOY / name).read_text().splitlines():
            if line.startswith("#   cp "):
                source = shlex.split(line[1:])[1]
                assert (ROOT / source).is_file(), line


def test_the_image_owns_every_directory_a_volume_is_mounted_on():
    # Docker gives a new named volume the ownership of its mount point in the
    # image; a mount point the image lacks is created for root, and the app
    # (uid 10001) could then not write its backups there.
    dockerfile = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    made, owned_by = set(), None
    for run in re.findall(r"^RUN (.*)$", dockerfile, re.MULTILINE):
        for command in run.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["mkdir", "-p"]:
                made.update(words[2:])
            if words[:2] == ["chown", "-R"] and words[3:] == ["/data"]:
                owned_by = words[2]
    assert owned_by == "tinylink"
    for name in ("compose.yaml", "compose.sqlite.yaml"):
        for service in compose(name)["services"].values():
            for volume in service.get("volumes", []):
                target = volume.split(":")[1]
                if target.startswith("/data"):
                    assert target in made | {"/data"}, (name, volume)
