from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from config import handlers
from links import accounts, pages
from links.api import ApiDocsAccess, LinkViewSet


class OptionalSlashRouter(SimpleRouter):
    """Every API path works with and without a trailing slash (TinyLink+
    clients call /api/links; browsers and DRF habits add the slash)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


api_router = OptionalSlashRouter()
api_router.register("links", LinkViewSet, basename="link")

api_patterns = [
    re_path(
        r"^schema/?$",
        SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]),
        name="schema",
    ),
    # The split view serves its start-up script as a file (?script): the
    # Content-Security-Policy runs no inline script.
    re_path(
        r"^docs/?$",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            template_name="api/swagger_ui.html",
            permission_classes=[ApiDocsAccess],
        ),
        name="docs",
    ),
    *api_router.urls,
]

# Ahead of Django's own: sign-in offers a reset only when email can be sent,
# GET on sign-out gets a page, and a reset says when its email failed.
accounts_patterns = [
    path("login/", accounts.SignInView.as_view(), name="login"),
    path("logout/", accounts.SignOutView.as_view(), name="logout"),
    path(
        "password_reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        accounts.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("", include("django.contrib.auth.urls")),
]

urlpatterns = [
    path("", pages.home, name="home"),
    path("accounts/", include(accounts_patterns)),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("", include(("opsconsole.urls", "opsconsole"))),
    # Web pages under links/, then the catch-all short-code route, last so
    # that no alias can shadow a page; links.codes.RESERVED_CODES keeps
    # aliases off every prefix above.
    path("", include("links.urls")),
]

handler400 = handlers.bad_request
handler403 = handlers.permission_denied
handler404 = handlers.page_not_found
handler500 = handlers.server_error
