"""Staff-only diagnostics. Everyone else gets a plain 404, so the pages'
existence is not advertised."""

import platform
import sys
from functools import wraps

import django
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connection
from django.http import Http404, JsonResponse
from django.test.utils import CaptureQueriesContext
from django.views.decorators.cache import never_cache

from opsconsole import version
from opsconsole.engines import engine_for


def staff_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_authenticated and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


@staff_only
def version_view(request):
    engine = engine_for(DEFAULT_DB_ALIAS)
    return JsonResponse(
        {
            "version": version.VERSION,
            "commit": version.commit(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "database": {
                "vendor": engine.vendor,
                "server_version": engine.server_version(),
            },
            "platform": sys.platform,
        }
    )


@staff_only
def database_stats_view(request):
    engine = engine_for(DEFAULT_DB_ALIAS)
    tables = {model._meta.db_table for model in apps.get_models()}
    with CaptureQueriesContext(connection) as queries:
        body = {
            "vendor": engine.vendor,
            "database_size_bytes": engine.database_size(),
            "wal_size_bytes": engine.wal_size(),
            "tables": engine.table_row_counts(tables),
            "pool": engine.pool_stats(),
        }
    # Counted around the statistics themselves (the session and user lookups
    # before the view are not included).
    body["queries_this_request"] = len(queries)
    return JsonResponse(body)
