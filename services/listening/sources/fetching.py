"""A source's URL given by a user (a feed, a Mastodon instance), fetched through
``shared.safe_fetch`` and its failures classified as readers classify them."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from services.listening.sources.readers import (
    SourceRefused,
    SourceUnavailable,
    http_failure,
    transport_failure,
)
from shared.safe_fetch import Fetched, FetchLimits, UrlRefusedError, safe_fetch


async def fetch_checked(
    url: str,
    *,
    what: str,
    headers: Mapping[str, str],
    limits: FetchLimits,
    allow_loopback: bool,
) -> Fetched:
    """The answer below 400. A refused address (private, metadata, too large) is refused with
    the rule that refused it; too slow an answer, a network failure or a 5xx is unavailable; a
    429 asks to wait; other 4xx are refused. No reason names the URL (a feed's key may be in
    its query)."""
    try:
        fetched = await safe_fetch(
            url, headers=headers, limits=limits, allow_loopback=allow_loopback
        )
    except UrlRefusedError as refused:
        rule = str(refused.extensions.get("reason", "refused"))
        if rule == "too-slow":
            raise SourceUnavailable(f"{what}: no answer within {limits.seconds:g} s") from refused
        raise SourceRefused(f"{what}: the URL is refused ({rule})") from refused
    except httpx.HTTPError as error:
        raise transport_failure(error, what) from error
    if fetched.status >= 400:
        raise http_failure(httpx.Response(fetched.status, headers=fetched.headers), what)
    return fetched
