"""Services that are down, for the tests of what TinyLink does without them."""

import contextlib
import socket

# Port 1 (tcpmux) has no listener: connections are refused at once, as by a
# stopped Redis.
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@contextlib.contextmanager
def silent_port():
    """A port that accepts connections and never answers: a hung server, or
    a firewall that drops packets. Yields the port number."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
