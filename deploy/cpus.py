"""CPUs this process may use: its affinity, capped by the cgroup's CPU quota.

os.cpu_count() counts the host's CPUs: a container limited to 1 CPU on a
32-core host got 8 workers, each with up to DATABASE_POOL_MAX connections.
The quota is what `docker run --cpus`, Kubernetes' limits.cpu and systemd's
CPUQuota= set: cgroup v2's cpu.max, or v1's cpu.cfs_quota_us and
cpu.cfs_period_us.
"""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def available_cpus(
    cgroup_root=CGROUP_ROOT, proc_self_cgroup=PROC_SELF_CGROUP, affinity=None
):
    """At least 1. A fractional quota counts as a whole CPU (1.5 → 2): a
    worker that is throttled part of the time still serves."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(Path(cgroup_root), Path(proc_self_cgroup))
    if quota is None:
        return max(1, affinity)
    return max(1, min(affinity, math.ceil(quota)))


def cgroup_cpu_quota(cgroup_root, proc_self_cgroup):
    """The smallest quota (in CPUs) on this process's cgroup and its
    ancestors, or None when none is set or the files cannot be read."""
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _hierarchy, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2, the unified hierarchy
            mount = cgroup_root
            read = _v2_quota
        elif "cpu" in controllers.split(","):
            mount = _v1_cpu_mount(cgroup_root, controllers)
            read = _v1_quota
        else:
            continue
        if mount is None:
            continue
        quotas += [
            quota
            for directory in _directories(mount, path)
            if (quota := read(directory)) is not None
        ]
    return min(quotas) if quotas else None


def _directories(mount, path):
    """The cgroup's directory and each parent up to the mount. In a container
    the mount is the container's own cgroup while /proc/self/cgroup may name
    the host's path: then only the mount is looked at."""
    directory = mount / path.lstrip("/")
    if not directory.is_dir():
        return [mount]
    found = [directory]
    while directory != mount:
        directory = directory.parent
        found.append(directory)
    return found


def _v1_cpu_mount(cgroup_root, controllers):
    for name in (controllers, "cpu,cpuacct", "cpu"):
        if (cgroup_root / name).is_dir():
            return cgroup_root / name
    return None


def _v2_quota(directory):
    # "max 100000" (no limit) or "<quota> <period>", microseconds.
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(directory):
    # cfs_quota_us is -1 without a limit.
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
