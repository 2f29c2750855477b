"""Starting the real server (gunicorn with deploy/gunicorn.conf.py) for tests."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


# A persistent (not temporary) place for SQLite files that checks look at:
# the checkout itself may live under /tmp, which opsconsole.W001 flags.
PERSISTENT_DIR = Path.home() / ".cache" / "tinylink-tests"


def poll(read, expected, deadline=15):
    """read() as soon as it returns `expected`, else its value after
    `deadline` seconds: for what a server does within about a second
    (buffered clicks, edits reaching every worker), never timed by a test."""
    end = time.monotonic() + deadline
    while (value := read()) != expected and time.monotonic() < end:
        time.sleep(0.05)
    return value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    """A DATABASE_URL for the database the tests are using right now."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def child_pids(pid):
    """The processes whose parent is `pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while /proc was read
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def tcp_peer_ports(pid):
    """The remote ports of the TCP connections process `pid` holds (Linux
    /proc): its sockets' inodes, looked up in the kernel's TCP tables."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while the directory was read
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            # local_address remote_address st ... uid timeout inode
            if fields[9] in inodes:
                ports.add(int(fields[2].rpartition(":")[2], 16))
    return ports


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def form_csrf(server, path):
    """(cookie header, form token) from a fresh GET of a form page, for a
    POST to a real server as a browser would send it."""
    status, headers, body = http_request(server.url + path)
    assert status == 200
    cookie = next(
        value.split(";", 1)[0]
        for value in headers.get_all("Set-Cookie")
        if value.startswith("csrftoken=")
    )
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    return cookie, token.group(1).decode()


def http_request(url, method="GET", headers=None, timeout=30, data=None):
    """(status, headers, body) without following redirects or raising on 4xx."""
    request = urllib.request.Request(
        url, data=data, method=method, headers=headers or {}
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class GunicornServer:
    def __init__(self, workdir, workers=3, threads=4, extra_env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.extra_env = extra_env or {}
        self.log_path = Path(workdir) / "gunicorn.log"
        self.process = None
        self._log = None

    def start(self, deadline_seconds=30, wait_path="/"):
        """Starts gunicorn and waits until `wait_path` answers 200 or, with
        wait_path=None, only until the port accepts connections (so that no
        request reaches a worker before the test's own). Whatever ends the
        wait early (gunicorn exiting, the deadline, Ctrl-C) stops the process
        before it propagates: a start that fails leaves nothing running."""
        if not (ROOT / "staticfiles" / "staticfiles.json").exists():
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=ROOT,
                check=True,
            )
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            **self.extra_env,
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi",
                    "-c",
                    "deploy/gunicorn.conf.py",
                ],
                cwd=ROOT,
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            self._wait_until_answering(deadline_seconds, wait_path)
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self, deadline_seconds, wait_path):
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            if wait_path is None:
                if self._accepts_connections():
                    return
            elif self._answers(wait_path):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"gunicorn did not answer in {deadline_seconds}s:\n{self.log()}"
        )

    def _answers(self, path):
        try:
            status, _, _ = http_request(self.url + path, timeout=2)
        except OSError:
            return False
        return status == 200

    def _accepts_connections(self):
        # A connection that sends nothing: no worker sees a request from it.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def worker_pids(self):
        return child_pids(self.process.pid)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """Safe to call twice, and after a start that failed half-way."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
