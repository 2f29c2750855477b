"""Who may read the operations' numbers: /metrics and /health/full (version,
commit, backups, worker). The networks in METRICS_ALLOWED_NETWORKS, or anyone
with "Authorization: Bearer $METRICS_TOKEN"; everyone else gets 403.
"""

import hmac
import ipaddress

from django.conf import settings

from links.clientip import client_ip
from links.errors import error_response


def monitoring_allowed(request):
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header[7:].encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def monitoring_refused(request, message):
    return error_response(request, 403, "permission_denied", message)
