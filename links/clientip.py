"""The client's IP address, which X-Forwarded-For hops to believe included.

REMOTE_ADDR is the default: it is the only address a client cannot choose.
Behind proxies, the operator says how many hops to trust (TRUSTED_PROXY_COUNT)
or which networks the proxies are in (TRUSTED_PROXY_NETWORKS); addresses a
client wrote into X-Forwarded-For itself sit to the left of those hops and are
never used.
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
    count = settings.TRUSTED_PROXY_COUNT
    networks = settings.TRUSTED_PROXY_NETWORKS
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not (count or networks):
        return remote
    # Right to left: REMOTE_ADDR is the nearest hop, then each proxy's append.
    chain = [hop.strip() for hop in forwarded.split(",")] + [remote]
    chain.reverse()
    index = 0
    if count:
        index = min(count, len(chain) - 1)
    else:
        while index < len(chain) - 1:
            address = _parse(chain[index])
            if address is None or not any(address in net for net in networks):
                break
            index += 1
    address = _parse(chain[index])
    return str(address) if address is not None else remote
