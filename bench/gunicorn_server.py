"""gunicorn for bench/redirects.py, started the way `make serve` starts it
(python -m gunicorn APP -c deploy/gunicorn.conf.py) and stopped the way an
orchestrator stops it: SIGTERM, then wait for the master to exit."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from common import ROOT

CONFIG = "deploy/gunicorn.conf.py"
TINYLINK = "config.wsgi"
BARE = "bench.bare_wsgi:application"
# The shipped GUNICORN_GRACEFUL_TIMEOUT is 30 s: a stop that takes longer
# than that and a margin did not finish gracefully.
STOP_TIMEOUT_S = 45
SETTINGS = (
    "workers",
    "threads",
    "worker_class",
    "max_requests",
    "max_requests_jitter",
    "keepalive",
    "timeout",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolved_settings(env):
    """What deploy/gunicorn.conf.py makes of this environment: the settings
    file is run as gunicorn runs it, in a process of its own."""
    script = (
        f"import json, runpy; s = runpy.run_path({CONFIG!r}); "
        f"print(json.dumps({{k: s[k] for k in {SETTINGS!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def http_get(url, headers=None, timeout=60):
    """(status, body bytes); 4xx and 5xx are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Gunicorn:
    """One gunicorn master with its workers, in a process group of its own so
    that a failed run can end every process of it and nothing else."""

    def __init__(self, app, env, log_path):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log_path = log_path
        self.process = None
        self.graceful = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.kill()

    def start(self, deadline_s=60):
        """Start and wait until /health/live answers 200."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", self.app, "-c", CONFIG],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            try:
                if http_get(self.url + "/health/live", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {deadline_s} s")

    def stop(self):
        """SIGTERM, as a graceful shutdown; True when the master exited by
        itself within STOP_TIMEOUT_S (its workers finished their requests
        and ran their exit hooks), False when it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        # The master waits for its workers before it exits: nothing is left.
        self.graceful = self.process.returncode == 0
        return self.graceful

    def kill(self):
        """SIGKILL to the server's own process group, unless it stopped
        gracefully (then the group is gone and its id may be reused)."""
        if self.process is None or self.graceful:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
