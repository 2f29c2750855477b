"""The links' Prometheus counters: redirects by outcome, and links created,
updated and deleted.

They live in prometheus_client's default REGISTRY, which the /metrics view
(opsconsole.metrics) serves; under gunicorn its multiprocess mode sums each
worker's values at scrape time, wherever the counters are defined.
"""

from prometheus_client import Counter

REDIRECTS = Counter(
    "tinylink_redirects",
    "Requests to short links, by outcome.",
    ["result"],
)
LINKS_CREATED = Counter("tinylink_links_created", "Links created.")
LINKS_UPDATED = Counter("tinylink_links_updated", "Links updated.")
LINKS_DELETED = Counter("tinylink_links_deleted", "Links deleted.")
# Children bound once: the redirect path must not look labels up per request.
REDIRECT_RESULTS = {
    result: REDIRECTS.labels(result)
    for result in ("redirect", "not_found", "gone", "rate_limited")
}
# Buffered clicks (links/clickbuffer.py), summed over processes at scrape.
CLICKS_WRITTEN = Counter("tinylink_clicks_written", "Clicks written to the database.")
CLICKS_DROPPED = Counter(
    "tinylink_clicks_dropped",
    "Clicks not written: their link was deleted (or is not in restored data).",
)
CLICK_FLUSH_FAILURES = Counter(
    "tinylink_click_flush_failures",
    "Batches of clicks that could not be written yet (kept for the next try).",
)
