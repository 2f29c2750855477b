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
