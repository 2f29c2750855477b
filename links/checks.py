"""System checks (`manage.py check`) for the links app's settings."""

from django.conf import settings
from django.core.checks import Warning, register


@register("links")
def check_forwarded_for_trust(app_configs, **kwargs):
    warnings = []
    if settings.TRUSTED_PROXY_COUNT:
        behind = (
            "X-Forwarded-For is believed from TRUSTED_PROXIES alone."
            if settings.TRUSTED_PROXIES
            else "X-Forwarded-For is ignored: behind a proxy every client has "
            "the proxy's address, and shares one rate limit with all others."
        )
        warnings.append(
            Warning(
                "TRUSTED_PROXY_COUNT is no longer used: a count cannot tell a "
                "proxy from a client that reaches the app directly and writes "
                f"X-Forwarded-For itself. {behind}",
                hint="Remove TRUSTED_PROXY_COUNT and set TRUSTED_PROXIES to the "
                "CIDRs of your reverse proxies.",
                id="links.W001",
            )
        )
    everyone = [str(net) for net in settings.TRUSTED_PROXIES if net.prefixlen == 0]
    if everyone:
        warnings.append(
            Warning(
                f"TRUSTED_PROXIES includes {', '.join(everyone)}: every client "
                "counts as a proxy, so any client can choose its own address "
                "(rate limits, /metrics).",
                hint="List only the addresses of your reverse proxies.",
                id="links.W002",
            )
        )
    return warnings
