"""The one way a service fetches a URL it was given (a feed, a webhook, a medium's link).

A caller-supplied URL must not make a service reach what only the service can reach: itself, the
cluster's private network, or a cloud's metadata endpoint. :func:`safe_fetch` therefore

* takes only ``http`` and ``https``, and refuses the metadata host names outright;
* resolves the host and refuses it if **any** address is loopback, private (RFC 1918, ULA),
  link-local, unspecified, multicast, reserved, a metadata address or otherwise not global,
  including those addresses written as IPv4-mapped, 6to4 or NAT64 IPv6;
* connects to the address it checked (the request goes to the IP, with the original ``Host``
  header and, for https, the original name for SNI and certificate checks), so DNS that answers
  differently a moment later (rebinding) cannot move the connection elsewhere;
* follows at most ``max_redirects`` redirects itself, checking each hop the same way;
* stops reading once the body passes ``max_bytes``, and the whole fetch (every hop, name
  resolution included) once it passes ``seconds``.

Whatever it refuses raises :class:`UrlRefusedError`, a 422 problem of kind ``url-refused`` whose
``reason`` says which rule: a route answers it as is, and an activity using
``shared.activity_errors`` does not retry it (the same URL would be refused again). A network
failure it does not cause (connection refused, TLS failure) stays an ``httpx.TransportError``,
which routes answer with 503 and activities retry. The detail never names the addresses a host
resolved to, so a refusal does not map the internal network for the caller.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from shared.errors import ProblemError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Sent to the first origin only: a redirect elsewhere must not carry the caller's credentials.
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


class UrlRefusedError(ProblemError):
    def __init__(self, url: str, reason: str, why: str) -> None:
        super().__init__(422, "url-refused", f"{url} was refused: {why}", url=url, reason=reason)


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 5 * 1024 * 1024
    seconds: float = 10.0
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    url: str
    """The URL that answered, after redirects (with its host name, not the address)."""
    status: int
    headers: httpx.Headers
    body: bytes


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (tests replace this)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def address_refusal(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None for a global address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal(embedded)
    checks = [
        (address in METADATA_ADDRESSES, "metadata"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not-global"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@functools.cache
def _trust_store() -> ssl.SSLContext:
    """httpx's default verification, built once: loading the CA bundle takes ~0.1 s."""
    return httpx.create_ssl_context()


def _shown(url: httpx.URL) -> str:
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


async def _checked_addresses(url: httpx.URL, allow_loopback: bool) -> list[IPAddress]:
    if url.scheme not in ("http", "https"):
        raise UrlRefusedError(_shown(url), "scheme", "only http and https URLs are fetched")
    host = url.host.lower().rstrip(".")
    if not host:
        raise UrlRefusedError(_shown(url), "invalid", "the URL names no host")
    if host in METADATA_HOSTS:
        raise UrlRefusedError(_shown(url), "metadata", "the host is a metadata service")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await resolve(url.raw_host.decode("ascii"), url.port or _port(url))
        except (socket.gaierror, UnicodeError):
            addresses = []
    if not addresses:
        raise UrlRefusedError(_shown(url), "unresolvable", "the host name does not resolve")
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None and not (reason == "loopback" and allow_loopback):
            raise UrlRefusedError(_shown(url), reason, f"the host is a {reason} address")
    return addresses


def _port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or _port(url)


async def _send_pinned(
    client: httpx.AsyncClient,
    url: httpx.URL,
    addresses: list[IPAddress],
    method: str,
    headers: Mapping[str, str],
    content: bytes | None,
) -> httpx.Response:
    """Open the response at the first checked address that accepts a connection."""
    # The name's Host header whatever the caller sent: the checked host is the one addressed.
    named = {name: value for name, value in headers.items() if name.lower() != "host"}
    named["host"] = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    failure: httpx.ConnectError | None = None
    for address in addresses:
        request = client.build_request(
            method,
            url.copy_with(host=str(address)),
            headers=named,
            content=content,
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:
            failure = error
    assert failure is not None  # _checked_addresses never returns an empty list
    raise failure


async def _read_capped(response: httpx.Response, url: httpx.URL, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UrlRefusedError(_shown(url), "too-large", f"the body exceeds {max_bytes} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise UrlRefusedError(_shown(url), "too-large", f"the body exceeds {max_bytes} bytes")
    return bytes(body)


async def _follow(
    client: httpx.AsyncClient,
    url: httpx.URL,
    method: str,
    headers: dict[str, str],
    content: bytes | None,
    limits: FetchLimits,
    allow_loopback: bool,
) -> Fetched:
    for _ in range(limits.max_redirects + 1):
        addresses = await _checked_addresses(url, allow_loopback)
        response = await _send_pinned(client, url, addresses, method, headers, content)
        try:
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or location is None:
                body = await _read_capped(response, url, limits.max_bytes)
                return Fetched(_shown(url), response.status_code, response.headers, body)
        finally:
            await response.aclose()
        try:
            following = url.join(location)
        except httpx.InvalidURL as error:
            raise UrlRefusedError(_shown(url), "invalid", "the redirect is not a URL") from error
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, content = "GET", None
        if _origin(following) != _origin(url):
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        url = following
    raise UrlRefusedError(_shown(url), "redirects", f"more than {limits.max_redirects} redirects")


async def safe_fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    limits: FetchLimits = FetchLimits(),
    allow_loopback: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """Fetch ``url`` under the rules of this module; any answer's status is returned as is.

    ``allow_loopback`` lets tests and local fakes on 127.0.0.1 be fetched; nothing else that is
    refused can be allowed. ``ssl_context`` replaces the default trust store (a test's own CA).
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UrlRefusedError(url[:200], "invalid", "not a URL") from error
    try:
        async with (
            asyncio.timeout(limits.seconds),
            httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                timeout=limits.seconds,
                verify=ssl_context or _trust_store(),
            ) as client,
        ):
            return await _follow(
                client, parsed, method, dict(headers or {}), content, limits, allow_loopback
            )
    except (TimeoutError, httpx.TimeoutException) as error:
        raise UrlRefusedError(
            _shown(parsed), "too-slow", f"no complete answer within {limits.seconds} s"
        ) from error
