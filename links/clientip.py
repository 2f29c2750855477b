"""The client's IP address, which X-Forwarded-For hops to believe included.

REMOTE_ADDR is the default: it is the only address a client cannot choose.
Forwarded addresses are believed only from the proxies the operator names
(TRUSTED_PROXIES, CIDRs), walking from REMOTE_ADDR leftwards: the direct peer
must be a trusted proxy before its X-Forwarded-For entry counts, and so on,
hop by hop. The first hop that is not a trusted proxy is the client; what
sits to its left was written by that client and is never used.

A number of hops (TRUSTED_PROXY_COUNT, deprecated) is not enough: it cannot
tell a proxy from a client that reaches the app directly and writes the
header itself, so it is ignored (system check links.W001).
"""

import ipaddress

from django.conf import settings


def _parse(address):
    try:
        return ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None


def client_ip(request):
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not proxies:
        return remote
    # Right to left: REMOTE_ADDR is the nearest hop, then each proxy's append.
    chain = [hop.strip() for hop in forwarded.split(",")] + [remote]
    chain.reverse()
    index = 0
    while index < len(chain) - 1:
        address = _parse(chain[index])
        if address is None or not any(address in net for net in proxies):
            break
        index += 1
    address = _parse(chain[index])
    return str(address) if address is not None else remote
