"""links.checks: warnings about whom X-Forwarded-For is believed from."""

import ipaddress

import pytest

from links.checks import check_forwarded_for_trust
from tests.test_settings import manage

PROXIES = [ipaddress.ip_network("10.0.0.0/24")]


def ids(settings, count, proxies):
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXIES = proxies
    return [(w.id, w.msg) for w in check_forwarded_for_trust(None)]


def test_no_warning_without_proxies_or_with_proxies_alone(settings):
    assert ids(settings, 0, []) == []
    assert ids(settings, 0, PROXIES) == []


def test_a_proxy_count_alone_is_reported_as_ignored(settings):
    [(check_id, message)] = ids(settings, 1, [])
    assert check_id == "links.W001"
    assert "X-Forwarded-For is ignored" in message


def test_a_proxy_count_beside_trusted_proxies_is_reported_as_unused(settings):
    [(check_id, message)] = ids(settings, 2, PROXIES)
    assert check_id == "links.W001"
    assert "from TRUSTED_PROXIES alone" in message


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0"])
def test_trusting_every_address_as_a_proxy_is_reported(settings, everyone):
    proxies = [*PROXIES, ipaddress.ip_network(everyone)]
    [(check_id, message)] = ids(settings, 0, proxies)
    assert check_id == "links.W002"
    assert everyone in message


def test_manage_check_shows_the_warning(tmp_path):
    result = manage(
        "check",
        env={
            "TRUSTED_PROXY_COUNT": "1",
            "TRUSTED_PROXIES": "",
            "TRUSTED_PROXY_NETWORKS": "",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "links.W001" in result.stderr + result.stdout
