"""deploy/nginx/tinylink.conf under a real nginx in front of a real gunicorn.

The shipped file is the one tested. Only what names this host's paths and
ports is swapped, each by an exact text replacement that must match (a
replacement that no longer matches fails the test, so the file cannot drift
from what is run here):

    listen 80 / [::]:80          -> 127.0.0.1 / [::1] on a free port
    listen 443 / [::]:443        -> 127.0.0.1 / [::1] on another free port
    server 127.0.0.1:8000        -> the test's gunicorn
    /etc/letsencrypt/.../*.pem   -> a self-signed certificate made by openssl
    /srv/tinylink/app/staticfiles/, /var/www/letsencrypt -> this checkout's
                                    staticfiles/ and a temporary directory

nginx runs unprivileged paths only (its pid, logs and temporary files in
tmp_path), from a small main nginx.conf that includes the edited copy.
"""

import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from links.models import Link
from tests.servers import ROOT, GunicornServer, free_port, poll

pytestmark = pytest.mark.slow
NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
SHIPPED = ROOT / "deploy" / "nginx" / "tinylink.conf"
HOST = "sho.rt"
LIMIT = 5 * 2**20  # DATA_UPLOAD_MAX_MEMORY_SIZE's default
# Loopback has room for several "machines": nginx listens on 127.0.0.1, an
# outside client connects from an address of its own.
OUTSIDER = "127.0.0.5"


def nginx_or_skip():
    if shutil.which(NGINX) or Path(NGINX).is_file():
        return NGINX
    reason = f"nginx not found at {NGINX} (apt-get install -y nginx-light)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the nginx tests cannot run: {reason}")
    pytest.skip(f"NGINX TESTS SKIPPED: {reason}")


def replace_once(text, old, new):
    assert text.count(old) == 1, f"{SHIPPED.name}: expected {old!r} once"
    return text.replace(old, new)


def nginx_config(tmp_path, upstream_port):
    """The shipped file with this host's ports and paths, and a main
    nginx.conf around it; returns (nginx.conf path, http port, https port)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", f"/CN={HOST}", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    http_port, https_port = free_port(), free_port()
    text = SHIPPED.read_text()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", f"listen [::1]:{http_port};"),
        ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        ("listen [::]:443 ssl", f"listen [::1]:{https_port} ssl"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("/etc/letsencrypt/live/sho.rt/fullchain.pem", str(tmp_path / "cert.pem")),
        ("/etc/letsencrypt/live/sho.rt/privkey.pem", str(tmp_path / "key.pem")),
        ("/srv/tinylink/app/staticfiles/", f"{ROOT}/staticfiles/"),
        ("/var/www/letsencrypt", str(tmp_path / "acme")),
    ]:
        text = replace_once(text, old, new)
    (tmp_path / "tinylink.conf").write_text(text)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would switch to "nobody", who cannot read
    # tmp_path; any other user stays itself.
    user = "user root;" if os.geteuid() == 0 else ""
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp_path / "access.log"};
{temp}
    include {tmp_path / "tinylink.conf"};
}}
"""
    )
    return main, http_port, https_port


def run_nginx(*args, conf):
    return subprocess.run(
        [nginx_or_skip(), "-p", str(conf.parent), "-e", "stderr", "-c", str(conf),
         *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    nginx_or_skip()
    server = GunicornServer(
        tmp_path_factory.mktemp("gunicorn"),
        workers=2,
        extra_env={
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": HOST,
            "SECURE_SSL_REDIRECT": "true",
            "SESSION_COOKIE_SECURE": "true",
            "CSRF_COOKIE_SECURE": "true",
            # What docs/deploy.md tells an nginx-on-the-same-host setup.
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "TRUSTED_PROXY_NETWORKS": "",
            "TRUSTED_PROXY_COUNT": "0",
            "FORWARDED_ALLOW_IPS": "127.0.0.1,::1",
            # Only nginx's own address may read /metrics: through nginx, a
            # client elsewhere must be refused, one on 127.0.0.1 allowed.
            "METRICS_ALLOWED_NETWORKS": "127.0.0.1/32",
            "METRICS_TOKEN": "",
        },
    )
    server.start(wait_path="/health/live")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("nginx")
    conf, http_port, https_port = nginx_config(tmp_path, gunicorn.port)
    process = subprocess.Popen(
        [nginx_or_skip(), "-p", str(tmp_path), "-e", "stderr", "-c", str(conf)],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "stderr", "wb"),  # noqa: SIM115
    )  # fmt: skip
    try:
        wait_for_port(https_port, process, tmp_path)
        yield {"http": http_port, "https": https_port}
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_for_port(port, process, tmp_path, deadline=15):
    def listening():
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "stderr").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    if not poll(listening, True, deadline=deadline):
        raise RuntimeError(f"nginx did not listen on {port} in {deadline}s")


def request(
    nginx, path, *, tls=True, source="127.0.0.1", method="GET", headers=None, body=None
):
    """(status, headers, body) of one request to nginx from `source`."""  # fmt: skip
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
        connection = http.client.HTTPSConnection(
            "127.0.0.1", nginx["https"], timeout=30, context=context,
            source_address=(source, 0),
        )  # fmt: skip
    else:
        connection = http.client.HTTPConnection(
            "127.0.0.1", nginx["http"], timeout=30, source_address=(source, 0)
        )
    try:
        connection.request(
            method, path, body=body, headers={"Host": HOST, **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_nginx_t_accepts_the_shipped_file(tmp_path):
    conf, _, _ = nginx_config(tmp_path, free_port())
    done = run_nginx("-t", conf=conf)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_t_rejects_a_misspelt_directive(tmp_path):
    # The check above can fail: nginx -t is strict about what it reads.
    conf, _, _ = nginx_config(tmp_path, free_port())
    copy = tmp_path / "tinylink.conf"
    misspelt = copy.read_text().replace("proxy_read_timeout", "proxy_reed_timeout")
    copy.write_text(misspelt)
    assert run_nginx("-t", conf=conf).returncode != 0


def test_plain_http_is_redirected_to_https_by_nginx(nginx):
    status, headers, _ = request(nginx, "/go?x=1", tls=False)
    assert status == 301
    assert headers["Location"] == f"https://{HOST}/go?x=1"
    assert "X-Request-ID" not in headers  # nginx's answer, not the app's


def test_a_short_link_redirects_through_nginx(nginx, transactional_db):
    Link.objects.create(short_code="go", target_url="https://example.com/page")
    status, headers, _ = request(nginx, "/go")
    assert status == 302
    assert headers["Location"] == "https://example.com/page"
    assert headers["X-Request-ID"]


def test_the_app_sees_https_and_answers_without_a_redirect_loop(
    nginx, transactional_db
):
    # SECURE_SSL_REDIRECT is on: without X-Forwarded-Proto believed, every
    # https page would redirect to itself.
    status, headers, _ = request(nginx, "/accounts/login/")
    assert status == 200
    csrf = next(c for c in headers.get_all("Set-Cookie") if c.startswith("csrftoken"))
    assert "Secure" in csrf


def test_the_app_sees_the_client_address_nginx_forwarded(nginx, transactional_db):
    assert request(nginx, "/metrics")[0] == 200
    # From another address, through the same nginx: the app sees that address.
    assert request(nginx, "/metrics", source=OUTSIDER)[0] == 403
    # A client's own X-Forwarded-For is replaced, not believed.
    spoofed = {"X-Forwarded-For": "127.0.0.1"}
    assert request(nginx, "/metrics", source=OUTSIDER, headers=spoofed)[0] == 403


def test_static_files_are_served_by_nginx(nginx):
    manifest = json.loads((ROOT / "staticfiles" / "staticfiles.json").read_text())
    hashed = next(iter(manifest["paths"].values()))
    status, headers, body = request(nginx, f"/static/{hashed}")
    assert status == 200
    assert body == (ROOT / "staticfiles" / hashed).read_bytes()
    assert "X-Request-ID" not in headers  # never reached gunicorn
    assert "max-age=" in headers["Cache-Control"]


def test_a_body_over_the_apps_limit_is_refused_by_nginx(nginx, transactional_db):
    status, headers, _ = request(
        nginx, "/api/links", method="POST", body=b"x" * (LIMIT + 1)
    )
    assert status == 413
    assert "X-Request-ID" not in headers
    # At the limit, nginx passes it on and the app answers (not with 413).
    status, headers, _ = request(nginx, "/api/links", method="POST", body=b"x" * LIMIT)
    assert status != 413
    assert headers["X-Request-ID"]
