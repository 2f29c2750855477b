"""deploy/systemd/: the units pass `systemd-analyze verify` with no message.

verify also checks that each Exec* program exists, and /srv/tinylink is not
on this host: the test copies the units with the virtualenv's path pointed at
this checkout's .venv, and changes nothing else. An unknown or misspelt
directive is only a message (exit status 0), so the test wants no output at
all, and proves it can tell with a misspelt copy.
"""

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
NAMES = ("tinylink.service", "tinylink-worker.service")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # directives are case-sensitive
    parser.read(UNITS / name)
    return parser


def verify(tmp_path, edit=lambda text: text):
    if not Path(SYSTEMD_ANALYZE).is_file():
        reason = "systemd-analyze is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the systemd tests cannot run: {reason}")
        pytest.skip(f"SYSTEMD TESTS SKIPPED: {reason}")
    venv_bin = str(ROOT / ".venv" / "bin") + "/"
    paths = []
    for name in NAMES:
        text = (UNITS / name).read_text()
        assert "/srv/tinylink/app/.venv/bin/" in text
        copy = tmp_path / name
        copy.write_text(edit(text.replace("/srv/tinylink/app/.venv/bin/", venv_bin)))
        paths.append(str(copy))
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *paths],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    done = verify(tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.slow
def test_verify_reports_a_misspelt_directive(tmp_path):
    done = verify(tmp_path, lambda text: text.replace("ProtectSystem", "ProtectSytem"))
    assert "Unknown key 'ProtectSytem'" in done.stdout + done.stderr


def test_only_the_web_unit_migrates():
    web, worker = unit("tinylink.service"), unit("tinylink-worker.service")
    assert "manage.py migrate --noinput" in web["Service"]["ExecStartPre"]
    assert "ExecStartPre" not in worker["Service"]
    assert worker["Service"]["ExecStart"].endswith("manage.py opsworker")
    assert "tinylink.service" in worker["Unit"]["After"]


def test_the_worker_may_finish_a_backup_before_it_is_killed():
    worker = unit("tinylink-worker.service")["Service"]
    assert worker["TimeoutStopSec"] == "1h"
    # SIGTERM to the worker only: a pg_dump it waits for is not cut short.
    assert worker["KillMode"] == "mixed"


@pytest.mark.parametrize("name", NAMES)
def test_each_unit_is_hardened(name):
    service = unit(name)["Service"]
    assert service["User"] == "tinylink"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/srv/tinylink/tinylink.env"
    expected = {
        "ProtectSystem": "strict",
        "ReadWritePaths": "/srv/tinylink/data /srv/tinylink/backups",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter": "@system-service",
        "UMask": "0077",
    }
    assert {key: service.get(key) for key in expected} == expected
