from django.urls import path, register_converter

from links import views
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
    path("<code:code>", views.follow, name="redirect"),
]
