"""The fast path's batched metrics (config/redirect_metrics.py) add up to
what one observe() per request gives."""

from prometheus_client import CollectorRegistry, Histogram

from config.redirect_metrics import _observe

AMOUNTS = [0.0, 0.0004, 0.001, 0.0049, 0.005, 0.25, 3.0, 99.0, 1e9]


def _histogram(name):
    registry = CollectorRegistry()
    histogram = Histogram(
        name, "test", buckets=(0.001, 0.005, 0.25, 5.0), registry=registry
    )
    return histogram, registry


def _samples(registry):
    return {
        (s.name.rsplit("_", 1)[-1], tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_a_batch_counts_like_one_observe_per_amount():
    one_by_one, expected = _histogram("a")
    for amount in AMOUNTS:
        one_by_one.observe(amount)
    batched, actual = _histogram("b")
    _observe(batched, AMOUNTS)
    assert _samples(actual) == _samples(expected)
    assert _samples(actual)[("count", ())] == len(AMOUNTS)


def test_without_the_internals_it_observes_one_by_one():
    # As if prometheus_client renamed them: slower, still the same counts.
    class Plain:
        def __init__(self):
            self.seen = []

        def observe(self, amount):
            self.seen.append(amount)

    plain = Plain()
    _observe(plain, AMOUNTS)
    assert plain.seen == AMOUNTS


class _Request:
    META = {}


def test_counts_made_while_a_batch_is_written_are_not_lost(monkeypatch):
    import sys
    import threading

    from config import redirect_metrics

    metrics = redirect_metrics.RedirectMetrics()
    written = []
    monkeypatch.setattr(metrics, "_write", lambda batch: written.append(len(batch)))
    monkeypatch.setattr(metrics, "_start", lambda: None)
    stop = threading.Event()

    def publishing():
        while not stop.is_set():
            metrics.publish()

    def counting():
        for _ in range(20_000):
            metrics.count(_Request(), "GET", "http", "302", 0.001)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make the threads change hands all the time
    try:
        publisher = threading.Thread(target=publishing)
        publisher.start()
        counters = [threading.Thread(target=counting) for _ in range(4)]
        for thread in counters:
            thread.start()
        for thread in counters:
            thread.join()
        stop.set()
        publisher.join()
    finally:
        sys.setswitchinterval(interval)
    metrics.publish()
    assert sum(written) == 80_000


def test_the_thread_outlives_a_batch_it_could_not_write(monkeypatch):
    from config import redirect_metrics
    from tests.servers import poll

    monkeypatch.setattr(redirect_metrics, "PUBLISH_SECONDS", 0.01)
    metrics = redirect_metrics.RedirectMetrics()
    written = []

    def write(batch):
        if not written:
            written.append("failed")
            raise OSError(28, "No space left on device")
        written.append(len(batch))

    monkeypatch.setattr(metrics, "_write", write)
    metrics.count(_Request(), "GET", "http", "302", 0.001)  # starts the thread
    poll(lambda: len(written), 1)
    metrics.count(_Request(), "GET", "http", "302", 0.001)
    assert poll(lambda: written[1:], [1]) == [1]
