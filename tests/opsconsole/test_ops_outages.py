"""Data operations on a bad day for the database server: down, or a role
with fewer privileges than the defaults assume. One line, never a
traceback."""

import psycopg
import pytest
from django.db import connection

from opsconsole.backups.create import create_backup
from tests.opsconsole.helpers import error_line, make_sample_data, manage
from tests.servers import free_port

pytestmark = pytest.mark.slow
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL roles and databases"
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.mark.parametrize("command", [["backup"], ["restore_test", "--latest"]])
def test_a_database_server_that_is_down_is_one_line(db, command):
    down = f"postgres://postgres@127.0.0.1:{free_port()}/tinylink"
    result = manage(
        *command,
        env={
            "DATABASE_URL": down,
            "DATABASE_CONNECT_TIMEOUT": "1",
            "DATABASE_POOL_TIMEOUT": "2",
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert error_line(result.stderr).startswith(
        "CommandError: the database is unavailable: "
    )
    assert result.stderr.strip().count("\n") == 0, result.stderr


def _admin():
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def role_without_createdb(transactional_db):
    """A login role that owns nothing and may not create databases, with the
    table privileges TinyLink needs; and a scratch database it owns."""
    role, scratch = "tinylink_test_nocreatedb", "tinylink_test_drill_scratch"
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB")
        admin.execute(f"CREATE DATABASE {scratch} OWNER {role}")
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    settings = connection.settings_dict
    url = (
        f"postgres://{role}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    yield url, scratch
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {role}")


@on_postgresql
def test_a_drill_by_a_role_without_createdb_says_what_to_grant(role_without_createdb):
    url, scratch = role_without_createdb
    make_sample_data()
    create_backup()

    refused = manage("restore_test", "--latest", env={"DATABASE_URL": url})
    configured = manage(
        "restore_test",
        "--latest",
        env={"DATABASE_URL": url, "RESTORE_TEST_DATABASE": scratch},
    )

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "may not create one: ALTER ROLE tinylink_test_nocreatedb CREATEDB" in (
        error_line(refused.stderr)
    )
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert "passed" in configured.stdout
    with (
        _admin() as admin,
        psycopg.connect(
            admin.info.dsn.replace("dbname=postgres", f"dbname={scratch}")
        ) as drilled,
    ):
        # Emptied after the drill: its copy of the data is not left behind.
        assert drilled.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
