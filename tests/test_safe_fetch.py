"""The one safe fetch: refused addresses (after resolution and on every redirect), caps, pinning."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared import safe_fetch as module
from shared.safe_fetch import FetchLimits, IPAddress, UrlRefusedError, safe_fetch

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A one-off HTTP server on 127.0.0.1 that gives each request's head to ``handler``; yields
    its port, and at exit stops every request still being answered."""
    answering: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        answering.add(task)
        try:
            await handler(await reader.readuntil(b"\r\n\r\n"), writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            answering.discard(task)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(answering):
            task.cancel()
        await server.wait_closed()


def answer(status: int, body: bytes = b"", **headers: str) -> Handler:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", "connection: close"]
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return handler


def redirect(location: str) -> Handler:
    return answer(302, location=location)


def resolving(table: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(address) for address in table[host]]

    return resolve


async def refusal(url: str, **options: object) -> UrlRefusedError:
    with pytest.raises(UrlRefusedError) as refused:
        await safe_fetch(url, **options)  # type: ignore[arg-type]
    assert (refused.value.status, refused.value.kind) == (422, "url-refused")
    return refused.value


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.9.9.9:8080/admin", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number, read by the resolver
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.254/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://169.254.10.10/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://Metadata.Google.Internal./computeMetadata/v1/", "metadata"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://[2002:a9fe:a9fe::]/", "metadata"),  # 6to4
        ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://100.64.0.1/", "not-global"),
        ("ftp://example.com/feed", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com/", "scheme"),
        ("not a url at all", "scheme"),
    ],
)
async def test_a_refused_address_is_refused_before_any_connection(url: str, reason: str) -> None:
    refused = await refusal(url)
    assert refused.extensions["reason"] == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/", "metadata"),
        ("http://[fe80::1]/", "link-local"),
    ],
)
async def test_allowing_loopback_allows_nothing_else(url: str, reason: str) -> None:
    assert (await refusal(url, allow_loopback=True)).extensions["reason"] == reason


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.7"], "private"),
        (["93.184.215.14", "192.168.0.3"], "private"),
        (["2606:2800:21f:cb07::1", "::1"], "loopback"),
        (["169.254.169.254"], "metadata"),
        ([], "unresolvable"),
    ],
)
async def test_a_name_is_refused_when_any_of_its_addresses_is(
    monkeypatch: pytest.MonkeyPatch, addresses: list[str], reason: str
) -> None:
    monkeypatch.setattr(module, "resolve", resolving({"feed.example": addresses}))
    refused = await refusal("https://feed.example/rss.xml")
    assert refused.extensions == {"url": "https://feed.example/rss.xml", "reason": reason}
    assert refused.detail is not None
    assert all(address not in refused.detail for address in addresses)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    refused = await refusal("http://no-such-host.invalid/feed")
    assert refused.extensions["reason"] == "unresolvable"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://10.0.0.1/internal", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://metadata.google.internal/", "metadata"),
        ("http://internal.example/", "private"),
        ("file:///etc/passwd", "scheme"),
    ],
)
async def test_every_redirect_is_checked_like_the_first_url(
    monkeypatch: pytest.MonkeyPatch, location: str, reason: str
) -> None:
    monkeypatch.setattr(module, "resolve", resolving({"internal.example": ["192.168.4.4"]}))
    async with serving(redirect(location)) as port:
        refused = await refusal(f"http://127.0.0.1:{port}/feed", allow_loopback=True)
    assert refused.extensions["reason"] == reason


async def test_redirects_stop_after_the_limit() -> None:
    async with serving(redirect("/again")) as port:
        refused = await refusal(
            f"http://127.0.0.1:{port}/", allow_loopback=True, limits=FetchLimits(max_redirects=3)
        )
    assert refused.extensions["reason"] == "redirects"


async def test_a_fetch_follows_redirects_and_returns_the_final_answer() -> None:
    seen: list[bytes] = []

    async def feed(head: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(head)
        await answer(200, b"<rss/>", content_type="application/rss+xml")(head, writer)

    async with serving(feed) as feed_port:
        hop = redirect(f"http://127.0.0.1:{feed_port}/rss.xml")
        async with serving(hop) as first_port:
            fetched = await safe_fetch(
                f"http://127.0.0.1:{first_port}/old",
                headers={"Authorization": "Bearer for-the-first-host", "User-Agent": "engage"},
                allow_loopback=True,
            )
    assert fetched.url == f"http://127.0.0.1:{feed_port}/rss.xml"
    assert (fetched.status, fetched.body) == (200, b"<rss/>")
    assert fetched.headers["content-type"] == "application/rss+xml"
    # Another origin is not given the first one's credentials.
    assert b"user-agent: engage" in seen[0].lower()
    assert b"authorization" not in seen[0].lower()


async def test_an_error_status_is_an_answer_not_a_refusal() -> None:
    async with serving(answer(404, b"gone")) as port:
        fetched = await safe_fetch(f"http://127.0.0.1:{port}/", allow_loopback=True)
    assert (fetched.status, fetched.body) == (404, b"gone")


async def test_the_connection_goes_to_the_checked_address_with_the_names_host_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second resolution (DNS rebinding) would say 10.0.0.1; there is none to ask. The Host
    header names the checked host, whatever the caller sent."""
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(address) for address in answers[len(asked) - 1]]

    seen: list[bytes] = []

    async def record(head: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(head)
        await answer(200, b"ok")(head, writer)

    monkeypatch.setattr(module, "resolve", rebinding)
    async with serving(record) as port:
        fetched = await safe_fetch(
            f"http://feed.example:{port}/rss",
            headers={"Host": "admin.internal"},
            allow_loopback=True,
        )
    assert (fetched.status, fetched.url) == (200, f"http://feed.example:{port}/rss")
    assert asked == ["feed.example"]
    assert f"host: feed.example:{port}\r\n".encode() in seen[0].lower()
    assert b"admin.internal" not in seen[0]


async def test_a_body_past_the_cap_is_refused_while_reading() -> None:
    async def endless(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        for _ in range(64):
            writer.write(b"x" * 16_384)
            await writer.drain()

    async with serving(endless) as port:
        refused = await refusal(
            f"http://127.0.0.1:{port}/", allow_loopback=True, limits=FetchLimits(max_bytes=50_000)
        )
    assert refused.extensions["reason"] == "too-large"


async def test_a_declared_length_past_the_cap_is_refused_before_reading() -> None:
    async def huge(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n")
        await asyncio.sleep(60)

    async with serving(huge) as port:
        refused = await refusal(
            f"http://127.0.0.1:{port}/", allow_loopback=True, limits=FetchLimits(max_bytes=1000)
        )
    assert refused.extensions["reason"] == "too-large"


async def stall(head: bytes, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(60)


async def drip(head: bytes, writer: asyncio.StreamWriter) -> None:
    """Never silent long enough for a read timeout, never done."""
    writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
    while True:
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("handler", [stall, drip], ids=["stalling", "dripping"])
async def test_a_server_slower_than_the_time_cap_is_refused(handler: Handler) -> None:
    async with serving(handler) as port:
        started = time.monotonic()
        refused = await refusal(
            f"http://127.0.0.1:{port}/", allow_loopback=True, limits=FetchLimits(seconds=0.5)
        )
    assert refused.extensions["reason"] == "too-slow"
    assert time.monotonic() - started < 2


def certificate_for(name: str, tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name``, and a client context trusting its CA."""
    now = datetime.datetime.now(datetime.UTC)

    def issued(subject: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        issued("test CA", ca_key)
        .issuer_name(ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        issued(name, key)
        .issuer_name(ca_name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client


@pytest.mark.parametrize(
    ("certified", "trusted"), [("feed.example", True), ("other.example", False)]
)
async def test_https_checks_the_certificate_against_the_name_not_the_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, certified: str, trusted: bool
) -> None:
    server_tls, client_tls = certificate_for(certified, tmp_path)
    monkeypatch.setattr(module, "resolve", resolving({"feed.example": ["127.0.0.1"]}))
    async with serving(answer(200, b"secure"), tls=server_tls) as port:
        url = f"https://feed.example:{port}/rss"
        if trusted:
            fetched = await safe_fetch(url, allow_loopback=True, ssl_context=client_tls)
            assert (fetched.status, fetched.body, fetched.url) == (200, b"secure", url)
        else:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await safe_fetch(url, allow_loopback=True, ssl_context=client_tls)
