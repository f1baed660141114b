"""What every polled source is: a reader that, given its configuration, its credentials and the
cursor it left last time, returns the mentions that are new since then and the cursor to keep.

A reader speaks one platform's documented API or one format; it never stores anything, never
publishes and never sleeps. Polling (``polling.py``) publishes what it read, keeps the cursor
and the source's health, and waits for the platform when the platform asks.

Failures are one of three classes, so that polling can say why a source is failing:

- ``SourceUnavailable``: unreachable, a timeout, a 5xx; tried again after a backoff;
- ``SourceRefused``: the platform said no (a 4xx: a wrong token, a feed gone, a query it
  rejects); the reason is shown on the source, and it is tried again after a longer backoff,
  because people fix these on the platform's side;
- ``SourceMalformed``: the answer is not what the platform documents.

``RateLimited`` is none of them: the platform asked to wait ``retry_after`` seconds (from its
rate-limit headers), and the source stays healthy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.listening.contracts import RawMention, SourceKind
from shared.rate_limits import retry_after_seconds

# The most a reader returns from one poll, whatever the platform holds: the rest is read on the
# next poll from the cursor, so memory stays bounded on a backfill.
MAX_MENTIONS_PER_POLL = 1_000

Cursor = dict[str, Any]
# How long to wait after a 429 that says nothing of when to come back.
DEFAULT_RATE_LIMIT_WAIT = 60.0


class SourceError(Exception):
    """Reading failed; ``reason`` is what the source's health shows (no secrets in it)."""

    kind: ClassVar[str] = "error"

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class SourceUnavailable(SourceError):
    kind = "unavailable"


class SourceRefused(SourceError):
    kind = "refused"


class SourceMalformed(SourceError):
    kind = "malformed"


class RateLimited(Exception):
    """The platform asked to wait; what was read before it is in ``page``, when anything was."""

    def __init__(self, retry_after: float, page: Page | None = None) -> None:
        super().__init__(f"rate limited for {retry_after:.0f}s")
        self.retry_after = retry_after
        self.page = page


class SourceScope(BaseModel):
    """Whose source it is: every mention read is the organisation's, for the engagement when
    the source reads for one."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    organization_id: str
    engagement_id: str | None = None


class Page(BaseModel):
    """What one poll read, oldest first, and where the next poll starts."""

    mentions: list[RawMention] = Field(default_factory=list)
    cursor: Cursor = Field(default_factory=dict)
    # The platform said when it may be asked again (rate-limit headers), in seconds.
    wait_seconds: float | None = None


class SourceReader(Protocol):
    """One source kind's reader. ``registry.reader_for`` builds it with the worker's HTTP client
    and the kind's API base URL (``ENGAGE_LISTENING__API_BASE_URLS``, for tests and fakes)."""

    kind: ClassVar[SourceKind]
    # The ``settings`` a source of this kind needs (a feed URL, a hashtag, an account).
    Settings: ClassVar[type[BaseModel]]
    # Whether it needs ``credentials`` (a token); False when it reads public data.
    needs_credentials: ClassVar[bool]

    def __init__(self, http: httpx.AsyncClient, base_url: str | None) -> None:
        """``base_url`` None: the platform's real host."""

    async def read(
        self,
        scope: SourceScope,
        settings: BaseModel,
        credentials: SecretStr | None,
        cursor: Cursor,
        since: datetime,
    ) -> Page:
        """Mentions published after the cursor (or, with an empty cursor, after ``since``:
        the backfill's start)."""
        ...


def http_failure(
    response: httpx.Response, what: str, detail: str = ""
) -> SourceError | RateLimited:
    """A failed answer, classified: the reason names the status, ``what`` was asked and the
    platform's ``detail`` when the reader gives one (its error codes; never a token, never the
    URL's query: search terms may be in it). A 429 is the platform asking to wait, for as long
    as its ``Retry-After`` or reset header says (a minute when neither)."""
    if response.status_code == 429:
        return RateLimited(retry_after_seconds(response.headers) or DEFAULT_RATE_LIMIT_WAIT)
    reason = f"{what}: HTTP {response.status_code}"
    if detail:
        reason = f"{reason} {detail}"
    if response.status_code >= 500:
        return SourceUnavailable(reason, status=response.status_code)
    return SourceRefused(reason, status=response.status_code)


def transport_failure(error: httpx.HTTPError, what: str) -> SourceUnavailable:
    return SourceUnavailable(f"{what}: {type(error).__name__}")
