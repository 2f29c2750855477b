from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from config import handlers

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    # The catch-all short-code route stays last so that no alias can shadow a
    # page; links.codes.RESERVED_CODES keeps aliases off these prefixes.
    path("", include("links.urls")),
]

handler400 = handlers.bad_request
handler403 = handlers.permission_denied
handler404 = handlers.page_not_found
handler500 = handlers.server_error
