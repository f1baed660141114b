"""Signed webhooks: an event's CloudEvent JSON POSTed to a channel's URL through ``safe_fetch``.

Signature scheme (as Stripe's): ``Engage-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>``
is the HMAC-SHA256, keyed with the channel's secret (its UTF-8 bytes), of ``"<t>.<body>"``: the
timestamp, a dot and the exact bytes of the body. A receiver recomputes it over the raw body,
compares in constant time, and refuses a ``t`` older than a few minutes (a replay).
``Engage-Event-Id`` carries the event's id: a delivery tried again after the receiver already
stored it (its answer was lost) carries the same id, so the receiver drops the copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from services.listening.notifications.outcomes import Sent
from shared.safe_fetch import FetchLimits, UrlRefusedError, safe_fetch

SIGNATURE_HEADER = "Engage-Signature"
EVENT_ID_HEADER = "Engage-Event-Id"
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "AtlantideEngage-Webhooks/1"
# A receiver's answer is not read beyond this (only its status matters).
MAX_ANSWER_BYTES = 1024 * 1024
# Worth trying again: the receiver is overloaded, rate limits, or timed out.
RETRIED_STATUSES = frozenset({408, 425, 429})


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: bytes, header: str, body: bytes) -> bool:
    """What a receiver does (tests, and the scheme's documentation by example)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    return hmac.compare_digest(parts["v1"], signature(secret, int(parts["t"]), body))


def verdict_of(status: int) -> Sent:
    if 200 <= status < 300:
        return Sent("sent", status)
    if status >= 500 or status in RETRIED_STATUSES:
        return Sent("retry", status, f"the receiver answered {status}")
    return Sent("give_up", status, f"the receiver answered {status}")


async def send_webhook(
    url: str,
    event: dict[str, Any],
    secret: bytes,
    *,
    now: datetime,
    timeout_seconds: float,
    allow_loopback: bool = False,
) -> Sent:
    body = body_of(event)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(event["id"]),
        SIGNATURE_HEADER: signature_header(secret, int(now.timestamp()), body),
    }
    # No redirects: a POST must not be turned into a GET elsewhere, nor its body sent on.
    limits = FetchLimits(max_bytes=MAX_ANSWER_BYTES, seconds=timeout_seconds, max_redirects=0)
    try:
        answer = await safe_fetch(
            url,
            method="POST",
            headers=headers,
            content=body,
            limits=limits,
            allow_loopback=allow_loopback,
        )
    except UrlRefusedError as refused:
        # Slow is worth another try; an address or scheme refused now is refused again.
        slow = refused.extensions.get("reason") == "too-slow"
        return Sent("retry" if slow else "give_up", None, refused.detail)
    except httpx.TransportError as error:
        return Sent("retry", None, f"{type(error).__name__}: {error}")
    return verdict_of(answer.status)
