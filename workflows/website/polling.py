"""``WebsitePoll``: one round of the website watch, started by a Temporal Schedule that the
content worker keeps in place (``services/content/worker.py``), as ``ListeningPoll`` is for
listening's sources.

It asks the content service which watched sites are due and polls each in its own activity, all
at once: a failing site is marked failing by its activity and never holds up another."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from services.content.website.contracts import (
        DUE_SITES,
        POLL_SITE,
        WEBSITE_POLL_WORKFLOW,
        DueSites,
        PollSite,
        SitePolled,
        SitesDue,
        WebsitePollInput,
        WebsitePollSummary,
    )
    from shared import task_queues

# A poll failing in an unexpected way is tried again by the next round, within a minute.
POLL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
# A feed, then up to ten pages, each bounded by safe_fetch's time limit.
POLL_TIMEOUT = timedelta(minutes=4)


@workflow.defn(name=WEBSITE_POLL_WORKFLOW)
class WebsitePollWorkflow:
    @workflow.run
    async def run(self, request: WebsitePollInput) -> WebsitePollSummary:
        content = request.task_queue_prefix + task_queues.CONTENT
        due: SitesDue = await workflow.execute_activity(
            DUE_SITES,
            DueSites(limit=request.limit),
            result_type=SitesDue,
            task_queue=content,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=POLL_RETRY,
        )
        polled = await asyncio.gather(*(self._poll(content, site) for site in due.site_ids))
        return WebsitePollSummary(polled=[result for result in polled if result is not None])

    async def _poll(self, content: str, site_id: uuid.UUID) -> SitePolled | None:
        try:
            result: SitePolled = await workflow.execute_activity(
                POLL_SITE,
                PollSite(site_id=site_id),
                result_type=SitePolled,
                task_queue=content,
                start_to_close_timeout=POLL_TIMEOUT,
                retry_policy=POLL_RETRY,
            )
        except ActivityError:
            workflow.logger.exception("polling watched site %s failed", site_id)
            return None
        return result
