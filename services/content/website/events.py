"""Events of the website watch (payloads are the CloudEvents ``data``), emitted through the
content service's outbox under its source (``services.content.events.SOURCE``); the subject is
the watched site.

A site's health is announced on its changes only: ``website_watch_failing`` when a poll fails
after the site worked (or at its first poll), ``website_watch_recovered`` when a poll works
after it failed; the polls that fail in between change the reason shown on the site, not the
stream."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.content.events import SOURCE as SOURCE
from shared.domain import Channel

WEBSITE_WATCH_ADDED = "content.website_watch_added"
WEBSITE_WATCH_FAILING = "content.website_watch_failing"
WEBSITE_WATCH_RECOVERED = "content.website_watch_recovered"
WEBSITE_WATCH_REMOVED = "content.website_watch_removed"


def site_event_id(site_id: uuid.UUID, fact: str, at: datetime) -> uuid.UUID:
    """A site fails and recovers many times; each time is one fact, recorded once."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"website-watch/{site_id}/{fact}/{at.isoformat()}")


class WatchedSiteFact(BaseModel):
    """What every website watch event carries."""

    site_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    url: str


class WebsiteWatchAdded(WatchedSiteFact):
    channels: list[Channel]
    utm_campaign: str
    added_by: str


class WebsiteWatchFailing(WatchedSiteFact):
    # Why the poll failed, in words for the agency (``reading.SiteFailure``).
    reason: str
    at: datetime
    next_poll_at: datetime


class WebsiteWatchRecovered(WatchedSiteFact):
    # Polls that failed in a row before this one worked.
    failures: int
    at: datetime


class WebsiteWatchRemoved(WatchedSiteFact):
    removed_by: str
