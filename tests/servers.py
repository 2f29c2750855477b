"""Starting the real server (gunicorn with deploy/gunicorn.conf.py) for tests."""

import os
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http_request(url, method="GET", headers=None, timeout=30):
    """(status, headers, body) without following redirects or raising on 4xx."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
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

    def start(self, deadline_seconds=30):
        """Starts gunicorn and waits until it answers. Whatever ends the wait
        early (gunicorn exiting, the deadline, Ctrl-C) stops the process
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
            self._wait_until_answering(deadline_seconds)
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self, deadline_seconds):
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            try:
                status, _, _ = http_request(self.url + "/", timeout=2)
            except OSError:
                status = None
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"gunicorn did not answer in {deadline_seconds}s:\n{self.log()}"
        )

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
