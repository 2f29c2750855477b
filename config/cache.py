"""JSON, never pickle, for what TinyLink keeps in Redis.

Django's Redis cache pickles values, and unpickling runs code: whoever can
write one key (a shared Redis, a leaked password, an exposed port) would run
code in every worker that reads it. What TinyLink stores is plain data (rate
limit counters, the admin index's numbers), so JSON holds all of it.
"""

import json


class JSONSerializer:
    """The `serializer` of Django's RedisCacheClient (settings.CACHES)."""

    def dumps(self, obj):
        # Integers stay raw, as Django's own serializer keeps them: Redis
        # INCR works only on a plain number, and the rate limiter needs it.
        if type(obj) is int:
            return obj
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()

    def loads(self, data):
        """The value, or ValueError for anything that is not JSON (a planted
        pickle, or a value pickled by an older TinyLink): never run."""
        try:
            return int(data)
        except ValueError:
            pass
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"the cached value is not JSON: {exc}") from None
