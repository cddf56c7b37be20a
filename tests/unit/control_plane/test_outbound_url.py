from __future__ import annotations

import pytest

from control_plane.edges.outbound_url import UnsafeOutboundUrl, check_outbound_url


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "cloud metadata (link-local)"),
        ("::1", "IPv6 loopback"),
        ("fd00::1", "IPv6 unique local"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
    ],
)
def test_outbound_url_refuses_a_host_resolving_to_a_non_public_address(address: str, why: str) -> None:
    with pytest.raises(UnsafeOutboundUrl, match="OPTISCHEMA_ALLOW_PRIVATE_OUTBOUND"):
        check_outbound_url("https://llm.example.com/v1", allow_private=False, resolve=resolving_to(address))


def test_outbound_url_refuses_when_any_resolved_address_is_private() -> None:
    with pytest.raises(UnsafeOutboundUrl):
        check_outbound_url(
            "https://llm.example.com", allow_private=False, resolve=resolving_to("93.184.216.34", "10.0.0.1")
        )


def test_outbound_url_accepts_a_public_https_host() -> None:
    url = "https://api.openai.com/v1"
    assert check_outbound_url(url, allow_private=False, resolve=resolving_to("162.159.140.245")) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.com", "https://"),
        ("ftp://api.example.com", "https://"),
        ("https://user:pw@api.example.com", "user name or password"),
        ("https:///v1", "no host"),
    ],
)
def test_outbound_url_refuses_malformed_or_cleartext_urls(url: str, message: str) -> None:
    with pytest.raises(UnsafeOutboundUrl, match=message):
        check_outbound_url(url, allow_private=False, resolve=resolving_to("93.184.216.34"))


def test_operator_may_allow_private_targets_such_as_a_local_vllm() -> None:
    url = "http://127.0.0.1:8001/v1"
    assert check_outbound_url(url, allow_private=True, resolve=resolving_to("127.0.0.1")) == url
