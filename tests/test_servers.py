"""tests/servers.py: a gunicorn started for a test never outlives a failed start."""

from pathlib import Path

import pytest

from tests import servers
from tests.servers import GunicornServer, child_pids

pytestmark = pytest.mark.slow


def running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_during_start_stops_gunicorn_and_its_workers(
    transactional_db, tmp_path, monkeypatch
):
    server = GunicornServer(tmp_path, workers=2, threads=1)
    seen = []
    real_http_request = servers.http_request

    def answer_then_ctrl_c(url, **kwargs):
        answer = real_http_request(url, **kwargs)
        if answer[0] == 200:
            # Up and serving: the master and both workers exist now.
            seen.extend([server.process.pid, *child_pids(server.process.pid)])
            raise KeyboardInterrupt
        return answer

    monkeypatch.setattr(servers, "http_request", answer_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        server.start()
    assert len(seen) == 3, server.log()
    assert [pid for pid in seen if running(pid)] == []


def test_a_missed_deadline_stops_gunicorn(transactional_db, tmp_path):
    server = GunicornServer(tmp_path, workers=1, threads=1)
    with pytest.raises(RuntimeError, match="did not answer in 0s"):
        server.start(deadline_seconds=0)
    assert server.process.returncode is not None
    assert not running(server.process.pid)
    server.stop()  # a second stop is harmless


def test_gunicorn_logs_no_error_where_home_is_read_only(transactional_db, tmp_path):
    # Under systemd's ProtectSystem=strict, or as the image's user, HOME is
    # not writable: gunicorn's control socket ($HOME/.gunicorn) logged an
    # ERROR on every start. /proc stands in for such a HOME (even root cannot
    # create a directory there).
    server = GunicornServer(tmp_path, workers=1, extra_env={"HOME": "/proc"})
    server.start(wait_path="/health/live")
    server.stop()
    errors = [line for line in server.log().splitlines() if '"ERROR"' in line]
    assert errors == []
