"""gunicorn's default worker count follows the CPUs the process may use (its
affinity and the cgroup's CPU quota), not the host's (deploy/cpus.py)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.cpus import available_cpus

ROOT = Path(__file__).resolve().parent.parent


def fake_cgroup(tmp_path, proc_line, files):
    """A cgroup mount under tmp_path with `files` ({relative path: text})
    and a /proc/self/cgroup of one line."""
    root = tmp_path / "cgroup"
    root.mkdir()
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(proc_line + "\n")
    return {"cgroup_root": root, "proc_self_cgroup": proc}


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("200000 100000\n", 2),  # docker run --cpus=2
        ("150000 100000\n", 2),  # a fraction counts as a whole CPU
        ("50000 100000\n", 1),  # never fewer than one
        ("max 100000\n", 16),  # no limit: the affinity
        ("6400000 100000\n", 16),  # a quota above the affinity
    ],
)
def test_cgroup_v2_cpu_max_caps_the_affinity(tmp_path, cpu_max, cpus):
    paths = fake_cgroup(tmp_path, "0::/", {"cpu.max": cpu_max})
    assert available_cpus(**paths, affinity=16) == cpus


def test_cgroup_v2_a_parents_smaller_quota_applies(tmp_path):
    # systemd: CPUQuota= on the slice limits every unit in it.
    paths = fake_cgroup(
        tmp_path,
        "0::/system.slice/tinylink.service",
        {
            "system.slice/cpu.max": "100000 100000",
            "system.slice/tinylink.service/cpu.max": "max 100000",
        },
    )
    assert available_cpus(**paths, affinity=8) == 1


def test_cgroup_v2_a_host_path_unknown_in_the_container_reads_the_mount(tmp_path):
    paths = fake_cgroup(tmp_path, "0::/kubepods/pod1/abc", {"cpu.max": "300000 100000"})
    assert available_cpus(**paths, affinity=8) == 3


@pytest.mark.parametrize(("quota", "cpus"), [("200000", 2), ("-1", 8), ("250000", 3)])
def test_cgroup_v1_cfs_quota_and_period(tmp_path, quota, cpus):
    paths = fake_cgroup(
        tmp_path,
        "4:cpu,cpuacct:/docker/abc",
        {
            "cpu,cpuacct/cpu.cfs_quota_us": quota,
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
        },
    )
    assert available_cpus(**paths, affinity=8) == cpus


def test_no_cgroup_files_means_the_affinity(tmp_path):
    paths = {
        "cgroup_root": tmp_path / "none",
        "proc_self_cgroup": tmp_path / "missing",
    }
    assert available_cpus(**paths, affinity=3) == 3


def gunicorn(tmp_path, *arguments, cpus=None):
    command = [sys.executable, "-m", "gunicorn", *arguments]
    if cpus is not None:
        command = ["taskset", "--cpu-list", cpus, *command]
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "cpus-test",
        "DATA_DIR": str(tmp_path),
    }
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_gunicorn_check_config_passes(tmp_path):
    done = gunicorn(
        tmp_path, "--check-config", "-c", "deploy/gunicorn.conf.py", "config.wsgi"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_gunicorn_on_one_cpu_starts_three_workers(tmp_path):
    # Real gunicorn, limited to one CPU: cpu_count() still saw every core.
    done = gunicorn(
        tmp_path,
        "--print-config",
        "-c",
        "deploy/gunicorn.conf.py",
        "config.wsgi",
        cpus="0",
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^workers\s*=\s*3$", done.stdout, re.MULTILINE), done.stdout
