"""The project's URLs plus one view with a bug, for the server-error tests."""

from django.urls import path

from config import urls


def fail(request):
    raise RuntimeError("a bug, on purpose")


urlpatterns = [path("test/fail", fail), *urls.urlpatterns]
handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
