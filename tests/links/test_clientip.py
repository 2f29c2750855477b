"""links.clientip.client_ip: which address a request is counted against."""

import ipaddress

import pytest

from links.clientip import client_ip

PROXY_NETS = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.fixture(autouse=True)
def _no_trusted_proxies(settings):
    # The environment running the tests must not decide what is trusted.
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = []


def request(rf, remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return rf.get("/go", **meta)


def test_remote_addr_is_used_when_no_proxy_is_trusted(rf):
    assert client_ip(request(rf, "192.0.2.10")) == "192.0.2.10"


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(rf):
    spoofed = request(rf, "192.0.2.10", forwarded="198.51.100.7, 203.0.113.5")
    assert client_ip(spoofed) == "192.0.2.10"


@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("remote", ["192.0.2.10", "10.0.0.2"])
def test_a_proxy_count_alone_believes_no_forwarded_address(rf, settings, count, remote):
    # A count cannot tell a proxy from a client that reaches the app
    # directly and writes the header itself.
    settings.TRUSTED_PROXY_COUNT = count
    spoofed = request(rf, remote, forwarded="127.0.0.1, 127.0.0.2")
    assert client_ip(spoofed) == remote


def test_the_count_does_not_change_what_trusted_proxies_decide(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    settings.TRUSTED_PROXY_COUNT = 1
    chain = request(rf, "10.0.0.2", forwarded="6.6.6.6, 198.51.100.7, 10.0.0.3")
    assert client_ip(chain) == "198.51.100.7"


def test_one_trusted_proxy_gives_the_address_it_appended(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    assert client_ip(request(rf, "10.0.0.2", forwarded="198.51.100.7")) == (
        "198.51.100.7"
    )


def test_one_trusted_proxy_ignores_an_address_the_client_prepended(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the
    # address it really saw.
    chain = request(rf, "10.0.0.2", forwarded="6.6.6.6, 198.51.100.7")
    assert client_ip(chain) == "198.51.100.7"


def test_trusted_proxies_without_forwarded_for_use_remote_addr(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    assert client_ip(request(rf, "10.0.0.2")) == "10.0.0.2"


def test_trusted_networks_skip_proxy_hops_from_the_right(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    chain = request(rf, "10.0.0.2", forwarded="6.6.6.6, 198.51.100.7, 10.0.0.3")
    assert client_ip(chain) == "198.51.100.7"


def test_trusted_networks_stop_at_the_first_untrusted_hop(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    # 10.1.1.1 is left of an untrusted hop, so it was written by someone
    # untrusted and must not be believed even though it looks internal.
    chain = request(rf, "10.0.0.2", forwarded="10.1.1.1, 203.0.113.5, 10.0.0.3")
    assert client_ip(chain) == "203.0.113.5"


def test_untrusted_remote_addr_is_the_client_even_with_networks_set(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    direct = request(rf, "192.0.2.10", forwarded="198.51.100.7")
    assert client_ip(direct) == "192.0.2.10"


def test_all_hops_trusted_takes_the_leftmost_address(rf, settings):
    settings.TRUSTED_PROXIES = PROXY_NETS
    chain = request(rf, "10.0.0.2", forwarded="10.9.9.9, 10.0.0.3")
    assert client_ip(chain) == "10.9.9.9"


@pytest.mark.parametrize("garbage", ["not-an-ip", "", "999.1.1.1", "unknown"])
def test_garbage_in_forwarded_for_falls_back_to_remote_addr(rf, settings, garbage):
    settings.TRUSTED_PROXIES = PROXY_NETS
    assert client_ip(request(rf, "10.0.0.2", forwarded=garbage)) == "10.0.0.2"


def test_ipv6_remote_addr_is_used_by_default(rf):
    assert client_ip(request(rf, "2001:db8::1", forwarded="2001:db8::99")) == (
        "2001:db8::1"
    )


@pytest.mark.parametrize(
    "forwarded",
    ["2001:db8::7", "[2001:db8::7]", "2001:DB8:0:0::7", " 2001:db8::7 "],
)
def test_ipv6_client_behind_a_trusted_proxy_is_found_and_normalised(
    rf, settings, forwarded
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("::1/128")]
    assert client_ip(request(rf, "::1", forwarded=forwarded)) == "2001:db8::7"


def test_ipv6_trusted_networks_skip_ipv6_proxies(rf, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("fd00::/8")]
    chain = request(rf, "fd00::2", forwarded="2001:db8::6, 2001:db8::7, fd00::3")
    assert client_ip(chain) == "2001:db8::7"
