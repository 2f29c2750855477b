"""The ceiling of bench/redirects.py: the least a WSGI app can do for a
redirect, a fixed 302 with a Location header, served by gunicorn with the
shipped settings file:

    gunicorn bench.bare_wsgi:application -c deploy/gunicorn.conf.py

/health/live answers 200 as TinyLink's does, so the harness waits for both
servers alike, and redirects.lua's requests after its window go there too.
"""

LOCATION = "https://example.com/"


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/health/live":
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")]
        )
        return [b"ok\n"]
    start_response(
        "302 Found",
        [
            ("Location", LOCATION),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", "0"),
        ],
    )
    return [b""]
