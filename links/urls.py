from django.urls import path, register_converter

from links import pages, views
from links.codes import CODE_PATTERN


class ShortCodeConverter:
    regex = CODE_PATTERN

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ShortCodeConverter, "code")

app_name = "links"
urlpatterns = [
    path("links/", pages.link_list, name="list"),
    path("links/<code:code>/", pages.link_detail, name="detail"),
    path("links/<code:code>/edit/", pages.link_edit, name="edit"),
    path("links/<code:code>/delete/", pages.link_delete, name="delete"),
    # The catch-all short-code route: last, so no alias can shadow a page.
    path("<code:code>", views.follow, name="redirect"),
    path("<code:code>/", views.follow_with_slash, name="redirect-slash"),
]
