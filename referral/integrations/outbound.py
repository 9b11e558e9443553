"""Outbound safety: where a webhook may be sent, checked when the URL is saved
and again, from a fresh DNS answer, before every delivery.

A URL must be HTTPS to a public address. Plain HTTP, and loopback addresses,
are allowed only when WEBHOOK_ALLOW_LOOPBACK is set (development and tests),
and then only to loopback. Private, link-local (which holds cloud metadata
services), reserved, multicast and unspecified addresses are always refused,
whatever name leads to them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why, for the user."""


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"The host name {host!r} does not resolve.") from exc
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def _refusal(address: IpAddress, *, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return "a private address"
    if address.is_multicast or not address.is_global:
        return "an address that is not public"
    return None


def check_url(url: str, *, allow_loopback: bool) -> list[IpAddress]:
    """The addresses `url` leads to, all of them allowed; UnsafeUrl otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("Enter a URL like https://example.com/webhooks.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("Enter a URL like https://example.com/webhooks (https only).")
    if parts.username or parts.password:
        raise UnsafeUrl("A webhook URL cannot carry a user name or password.")
    addresses = resolve(parts.hostname, port)
    for address in addresses:
        refusal = _refusal(address, allow_loopback=allow_loopback)
        if refusal:
            raise UnsafeUrl(f"{parts.hostname} leads to {refusal} ({address}): not allowed.")
    if parts.scheme == "http" and not (
        allow_loopback and addresses and all(a.is_loopback for a in addresses)
    ):
        raise UnsafeUrl("Use https: plain http is allowed only to this machine in development.")
    return addresses
