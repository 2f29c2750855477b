"""Shared helpers for the links admin tests."""

from links.models import Link

CHANGELIST = "/admin/links/link/"
ADD = "/admin/links/link/add/"


def change_url(link):
    return f"/admin/links/link/{link.pk}/change/"


def make_link(code, **fields):
    fields.setdefault("target_url", f"https://example.com/{code}")
    return Link.objects.create(short_code=code, **fields)


def listed_codes(response):
    assert response.status_code == 200
    return sorted(link.short_code for link in response.context["cl"].result_list)


def add_form_data(**overrides):
    data = {
        "short_code": "fresh",
        "target_url": "https://example.com/fresh",
        "owner": "",
        "is_active": "on",
        "expires_at_0": "",
        "expires_at_1": "",
        "max_clicks": "",
    }
    data.update(overrides)
    return data


def run_action(client, action, links, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [link.pk for link in links], **extra},
    )
