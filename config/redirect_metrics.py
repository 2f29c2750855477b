"""django-prometheus's request metrics for the redirects config.fastpath
answers, counted as its middleware would count them, in batches.

Under gunicorn every value lives in a shared file (prometheus_client's
multiprocess mode): each increment takes a lock and writes a memory map, and
a request touches seventeen of them, a third of the fast path's time. So a
redirect only appends one tuple here; a thread of the process adds them up
every PUBLISH_SECONDS (and at exit) and writes each value once per batch.
/metrics may trail the redirects by that much; no count is lost on a
graceful stop. `kill -9` loses the last PUBLISH_SECONDS of these counts
(not of clicks or tinylink_redirects_total, which are counted at once).
"""

import atexit
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import Counter

from django_prometheus.middleware import Metrics

VIEW = "links:redirect"
PUBLISH_SECONDS = 0.5
# Counts kept while writing them fails, at most (then dropped): memory must
# not grow with every redirect of a process whose metrics cannot be written.
MAX_PENDING = 100_000
logger = logging.getLogger("tinylink.metrics")


class RedirectMetrics:
    def __init__(self):
        self.m = Metrics.get_instance()
        self._pending = []
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._thread_pid = None
        self._warned_at = -60.0
        atexit.register(self.publish)

    def count(self, request, method, transport, status, elapsed):
        """One answered request (`elapsed` seconds); written later."""
        meta = request.META
        entry = (
            method,
            transport,
            status,
            meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest",
            int(meta.get("CONTENT_LENGTH") or 0),
            elapsed,
        )
        # Under the lock: an append to the list publish() is taking away
        # would be lost (seen: 55 in 800,000 with four threads).
        with self._lock:
            if len(self._pending) < MAX_PENDING:
                self._pending.append(entry)
        if self._thread_pid != os.getpid():
            self._start()

    def publish(self):
        """Write what was counted to the metrics (the thread, exit, tests)."""
        with self._publish_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                self._write(batch)

    def _write(self, batch):
        m = self.m
        by_key = Counter(
            (method, transport, status) for method, transport, status, *_ in batch
        )
        for (method, transport, status), n in by_key.items():
            m.requests_by_method.labels(method=method).inc(n)
            m.requests_by_transport.labels(transport=transport).inc(n)
            m.requests_by_view_transport_method.labels(
                view=VIEW, transport=transport, method=method
            ).inc(n)
            m.responses_by_status.labels(status=status).inc(n)
            m.responses_by_status_view_method.labels(
                status=status, view=VIEW, method=method
            ).inc(n)
        total = len(batch)
        m.requests_total.inc(total)
        m.responses_total.inc(total)
        m.responses_by_charset.labels(charset="utf-8").inc(total)
        ajax = sum(1 for entry in batch if entry[3])
        if ajax:
            m.requests_ajax.inc(ajax)
        _observe(m.requests_body_bytes, [entry[4] for entry in batch])
        _observe(m.responses_body_bytes, [0] * total)
        _observe(m.requests_latency_before, [entry[5] for entry in batch])
        for method in {entry[0] for entry in batch}:
            _observe(
                m.requests_latency_by_view_method.labels(view=VIEW, method=method),
                [entry[5] for entry in batch if entry[0] == method],
            )

    def _start(self):
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            # A forked child does not inherit its parent's counts.
            if self._thread_pid is not None:
                self._pending = []
            self._thread_pid = os.getpid()
        threading.Thread(
            target=self._run, name="tinylink-redirect-metrics", daemon=True
        ).start()

    def _run(self):
        while True:
            time.sleep(PUBLISH_SECONDS)
            try:
                self.publish()
            except Exception:
                # A metrics file that cannot be written (a full disk) costs
                # that batch of counts, not every later one.
                now = time.monotonic()
                if now - self._warned_at >= 60:
                    self._warned_at = now
                    logger.exception("writing the redirect metrics failed")


def _observe(histogram, amounts):
    """histogram.observe() for each amount, each shared value written once.

    prometheus_client's Histogram keeps its bucket and sum values in
    _buckets and _sum (unchanged since 0.4); should that change, every
    amount is observed one by one, slower but the same."""
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    if buckets is None or bounds is None or not hasattr(histogram, "_sum"):
        for amount in amounts:
            histogram.observe(amount)
        return
    # observe() counts an amount in the first bucket whose bound is >= it.
    per_bucket = Counter(bisect_left(bounds, amount) for amount in amounts)
    for index, n in per_bucket.items():
        buckets[index].inc(n)
    histogram._sum.inc(sum(amounts))
