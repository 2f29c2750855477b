"""DRF throttle for API writes, on links.ratelimit's shared counters."""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from links.clientip import client_ip
from links.ratelimit import hit, parse_rate

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteRateThrottle(BaseThrottle):
    """RATE_LIMIT_WRITES per client IP and, when signed in, per user: a user
    cannot escape by changing address, nor one address by changing tokens."""

    def allow_request(self, request, view):
        self._wait = 0
        rate = parse_rate(settings.RATE_LIMIT_WRITES)
        if rate is None or request.method not in WRITE_METHODS:
            return True
        keys = [("write-ip", client_ip(request))]
        if request.user and request.user.is_authenticated:
            keys.append(("write-user", str(request.user.pk)))
        self._wait = max(hit(scope, key, rate) for scope, key in keys)
        return self._wait == 0

    def wait(self):
        return self._wait
