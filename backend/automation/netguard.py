"""Outgoing webhook requests that cannot reach the inside of the network (SSRF protection).

Every connection resolves the host itself, refuses the request when *any* address it resolves to is private,
loopback, link-local, multicast, reserved, unspecified or otherwise not globally routable, and connects to the
address it checked (so a DNS answer that changes between the check and the connection cannot slip through).
Redirects are never followed: a 3xx answer is a failed attempt. Proxies from the environment are not used.

``FLOWYARD_WEBHOOK_ALLOW_PRIVATE`` lifts the address check; ``FLOWYARD_WEBHOOK_ALLOWED_NETWORKS`` (CIDRs) lets
the named networks through while the rest stays refused.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The target is not allowed (its address, its scheme), or its URL is not usable."""


def address_refusal(address: Address) -> str | None:
    """Why ``address`` may not be reached (None when it may), per the settings' allowances."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS:
        if address in ipaddress.ip_network(network, strict=False):
            return None
    if settings.FLOWYARD_WEBHOOK_ALLOW_PRIVATE:
        return None
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def check_url(url: str) -> tuple[str, str, int]:
    """Parse a webhook URL; return (scheme, host, port) or raise ``Refused`` naming what is wrong. An address
    literal is checked here too; a host name is checked each time it is resolved."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("The URL must start with http:// or https://.")
    host = parts.hostname
    if not host:
        raise Refused("The URL has no host.")
    if parts.username or parts.password:
        raise Refused("The URL must not hold credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("The URL's port is not valid.") from None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            literal = ipaddress.ip_address("127.0.0.1")
        else:
            literal = None
    if literal is not None:
        refusal = address_refusal(literal)
        if refusal is not None:
            raise Refused(f"Refused: {refusal}.")
    return parts.scheme, host, port


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to; ``Refused`` when it does not resolve, or when one is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"{host} does not resolve: {exc.strerror}.") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        refusal = address_refusal(address)
        if refusal is not None:
            raise Refused(f"Refused: {host} resolves to {refusal}.")
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses (TLS still verifies the host name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in resolve(host, port):
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"could not connect to {host}")


@dataclass
class Answer:
    status_code: int | None
    body: bytes
    duration_ms: float
    error: str = ""


_pool: httpcore.ConnectionPool | None = None


def _connection_pool() -> httpcore.ConnectionPool:
    global _pool
    if _pool is None:
        _pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(),
        )
    return _pool


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``url`` through the guard: at most ``FLOWYARD_WEBHOOK_TIMEOUT_SECONDS`` in all, the
    answer read up to ``FLOWYARD_WEBHOOK_MAX_RESPONSE_BYTES``. Never raises for network trouble: the
    ``Answer`` says what happened."""
    started = time.monotonic()
    limit = settings.FLOWYARD_WEBHOOK_TIMEOUT_SECONDS
    cap = settings.FLOWYARD_WEBHOOK_MAX_RESPONSE_BYTES
    try:
        check_url(url)
        request_headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", "Flowyard-Webhooks/1"),
            *headers.items(),
        ]
        timeouts = {"connect": min(5.0, limit), "read": limit, "write": limit, "pool": limit}
        received = bytearray()
        with _connection_pool().stream(
            "POST", url, headers=request_headers, content=body, extensions={"timeout": timeouts}
        ) as response:
            for chunk in response.iter_stream():
                received += chunk
                if len(received) >= cap or time.monotonic() - started > limit:
                    break
            status_code = response.status
    except Refused as exc:
        return Answer(None, b"", _ms(started), str(exc))
    except httpcore.TimeoutException:
        return Answer(None, b"", _ms(started), f"No answer within {limit:g} s.")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
        return Answer(None, b"", _ms(started), f"{type(exc).__name__}: {exc}"[:500])
    return Answer(status_code, bytes(received[:cap]), _ms(started))


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
