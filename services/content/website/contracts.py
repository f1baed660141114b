"""Activities of the website watch and their messages (the polling workflow imports these)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

DUE_SITES = "content.due_watched_sites"
POLL_SITE = "content.poll_watched_site"
WEBSITE_POLL_WORKFLOW = "WebsitePoll"
WEBSITE_POLL_SCHEDULE_ID = "website-poll"


class WebsitePollInput(BaseModel):
    task_queue_prefix: str = ""
    limit: int = Field(100, ge=1, le=1000)


class DueSites(BaseModel):
    limit: int = Field(100, ge=1, le=1000)


class SitesDue(BaseModel):
    site_ids: list[uuid.UUID]


class PollSite(BaseModel):
    site_id: uuid.UUID


class SitePolled(BaseModel):
    site_id: uuid.UUID
    outcome: str = Field(description="drafted, unchanged, failing or skipped")
    drafted: int = 0
    reason: str | None = None


class WebsitePollSummary(BaseModel):
    polled: list[SitePolled]
