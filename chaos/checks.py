"""What must hold after the faults, read from the platform's own stores and the sandbox.

- every outbox row of every service is on the stream exactly once (event ids; the stream's
  sequence has no gap);
- every durable consumer recorded each event of its subject once (``processed_events``), none
  left pending, none dead-lettered;
- the sandbox holds each publication's post and each reply once, and nothing else;
- every comment and mention the sandbox has up to a listening source's cursor is stored as a
  mention;
- every engagement, post, plan and reply workflow completed, and no workflow failed.

Each check returns a ``Check``: its figures and whether the invariant held.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus

from services.content import models as content
from services.listening import models as listening
from services.publisher import models as publisher
from services.reporting import models as reporting
from services.strategy import models as strategy
from shared.events.outbox import OutboxMixin, ProcessedEventMixin
from shared.settings import Settings

SERVICE_MODELS: dict[str, tuple[type[OutboxMixin], type[ProcessedEventMixin]]] = {
    "strategy": (strategy.OutboxEvent, strategy.ProcessedEvent),
    "content": (content.OutboxEvent, content.ProcessedEvent),
    "publisher": (publisher.OutboxEvent, publisher.ProcessedEvent),
    "listening": (listening.OutboxEvent, listening.ProcessedEvent),
    "reporting": (reporting.OutboxEvent, reporting.ProcessedEvent),
}
# Workflows that end on their own once their engagement has; the others (polling, alerts,
# maintenance, SLA timers) may rightly still run.
MUST_COMPLETE = frozenset(
    {"EngagementWorkflow", "PublishPostWorkflow", "PublishPlanWorkflow", "SendReplyWorkflow"}
)
FAILED = frozenset(
    {
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.TERMINATED,
        WorkflowExecutionStatus.TIMED_OUT,
    }
)
SETTLE_POLL_SECONDS = 1.0
PAGE = 100
REDIRECT_URI = "https://chaos.atlantide.local/callback"
EXAMPLES = 5


@dataclass
class Check:
    name: str
    ok: bool
    figures: dict[str, Any] = field(default_factory=dict)


def _duplicates(counts: Counter[str]) -> list[str]:
    return [key for key, seen in counts.items() if seen > 1]


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest."""
    wanted, parts = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(wanted) == len(parts)


# --- the stream ---------------------------------------------------------------------------------


@dataclass
class StreamEvent:
    seq: int
    subject: str
    event_id: str
    type: str


async def read_stream(js: JetStreamContext, settings: Settings) -> list[StreamEvent]:
    """Every message the stream holds, oldest first."""
    events = settings.events
    info = await js.stream_info(events.stream)
    found: list[StreamEvent] = []
    if info.state.messages == 0:
        return found
    subscription = await js.subscribe(
        f"{events.subject_prefix}.>", stream=events.stream, ordered_consumer=True
    )
    try:
        while len(found) < info.state.messages:
            try:
                msg = await subscription.next_msg(timeout=2.0)
            except TimeoutError:
                break
            body = json.loads(msg.data)
            found.append(
                StreamEvent(
                    msg.metadata.sequence.stream,
                    msg.subject,
                    str(body.get("id", "")),
                    str(body.get("type", "")),
                )
            )
    finally:
        await subscription.unsubscribe()
    return found


async def _outbox_rows(engine: AsyncEngine) -> dict[str, dict[str, datetime | None]]:
    rows: dict[str, dict[str, datetime | None]] = {}
    async with engine.connect() as connection:
        for service, (outbox, _) in SERVICE_MODELS.items():
            result = await connection.execute(select(outbox.event_id, outbox.published_at))
            rows[service] = {event_id: published for event_id, published in result}
    return rows


async def _settle(settled: Callable[[], Awaitable[bool]], within: float) -> float:
    """Poll ``settled`` until it holds or ``within`` seconds pass; seconds waited (the checks
    that follow say what did not settle)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await settled():
            break
        await asyncio.sleep(SETTLE_POLL_SECONDS)
    return time.monotonic() - started


async def settle_outboxes(engine: AsyncEngine, within: float) -> float:
    """Wait until every outbox row is marked published; seconds waited."""

    async def published() -> bool:
        rows = await _outbox_rows(engine)
        return all(published for service in rows.values() for published in service.values())

    return await _settle(published, within)


async def check_outbox(
    engine: AsyncEngine, js: JetStreamContext, settings: Settings, stream: list[StreamEvent]
) -> Check:
    info = await js.stream_info(settings.events.stream)
    rows = await _outbox_rows(engine)
    in_stream = Counter(event.event_id for event in stream)
    owned: set[str] = set()
    services: dict[str, Any] = {}
    ok = True
    for service, events in rows.items():
        ids = set(events)
        owned |= ids
        missing = sorted(ids - set(in_stream))
        duplicated = sorted(i for i in ids if in_stream[i] > 1)
        unpublished = sum(published is None for published in events.values())
        ok = ok and not missing and not duplicated and not unpublished
        services[service] = {
            "outbox_rows": len(ids),
            "on_stream": len(ids) - len(missing),
            "missing": len(missing),
            "duplicates": len(duplicated),
            "unpublished": unpublished,
            "examples": (missing + duplicated)[:EXAMPLES],
        }
    state = info.state
    span = state.last_seq - state.first_seq + 1 if state.messages else 0
    others = Counter(event.type for event in stream if event.event_id not in owned)
    dead_letters = sum(".deadletter." in event.subject for event in stream)
    return Check(
        "outbox_published_exactly_once",
        ok and span == state.messages,
        {
            "outbox_rows": sum(len(events) for events in rows.values()),
            "stream_messages": state.messages,
            "stream_first_seq": state.first_seq,
            "stream_last_seq": state.last_seq,
            "sequence_gaps": span - state.messages,
            "duplicate_ids_on_stream": len(_duplicates(in_stream)),
            "not_from_an_outbox": dict(others),
            "dead_letters_on_stream": dead_letters,
            "services": services,
        },
    )


# --- consumers ----------------------------------------------------------------------------------


async def settle_consumers(js: JetStreamContext, settings: Settings, within: float) -> float:
    """Wait until no durable consumer has anything pending or unacknowledged."""

    async def drained() -> bool:
        consumers = await js.consumers_info(settings.events.stream)
        return all(
            info.num_pending == 0 and info.num_ack_pending == 0
            for info in consumers
            if info.config.durable_name
        )

    return await _settle(drained, within)


async def check_consumers(
    engine: AsyncEngine, js: JetStreamContext, settings: Settings, stream: list[StreamEvent]
) -> Check:
    processed: dict[str, set[str]] = {}
    async with engine.connect() as connection:
        for _, model in SERVICE_MODELS.values():
            for consumer, event_id in await connection.execute(
                select(model.consumer, model.event_id)
            ):
                processed.setdefault(consumer, set()).add(event_id)
    dead_by_consumer = Counter(
        event.subject.rsplit(".", 1)[-1]
        for event in stream
        if f"{settings.events.subject_prefix}.deadletter." in event.subject
    )
    figures: dict[str, Any] = {}
    ok = True
    for info in await js.consumers_info(settings.events.stream):
        durable = info.config.durable_name
        if not durable:
            continue
        filters = list(info.config.filter_subjects or []) or [info.config.filter_subject or ">"]
        matching = Counter(
            event.event_id
            for event in stream
            if any(subject_matches(pattern, event.subject) for pattern in filters)
        )
        handled = processed.get(durable)
        entry: dict[str, Any] = {
            "events": len(matching),
            "pending": info.num_pending,
            "unacknowledged": info.num_ack_pending,
            "redelivered": info.num_redelivered,
            "dead_lettered": dead_by_consumer.get(durable, 0),
        }
        if handled is None:
            # A consumer keeping no processed_events (an effect idempotent by itself).
            entry["recorded"] = False
        else:
            missing = sorted(set(matching) - handled)
            entry |= {"recorded": True, "handled": len(handled), "missing": len(missing)}
            entry["examples"] = missing[:EXAMPLES]
            ok = ok and not missing
        ok = ok and not info.num_pending and not info.num_ack_pending
        ok = ok and not entry["dead_lettered"]
        figures[durable] = entry
    return Check("consumers_handled_each_event_once", ok, {"consumers": figures})


# --- the sandbox --------------------------------------------------------------------------------


class Sandbox:
    """The sandbox's API as the account owner sees it: a token of our own per account."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._tokens: dict[str, str] = {}

    async def accounts(self) -> list[dict[str, Any]]:
        answer = await self._client.get("/v1/accounts")
        answer.raise_for_status()
        accounts: list[dict[str, Any]] = answer.json()
        return accounts

    async def _headers(self, account_id: str) -> dict[str, str]:
        if account_id not in self._tokens:
            authorized = await self._client.get(
                "/oauth/authorize",
                params={
                    "client_id": "chaos",
                    "redirect_uri": REDIRECT_URI,
                    "account_id": account_id,
                },
            )
            code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
            token = await self._client.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                },
            )
            token.raise_for_status()
            self._tokens[account_id] = token.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[account_id]}"}

    async def _get(self, account_id: str, path: str, params: dict[str, Any]) -> Any:
        answer = await self._client.get(
            path, params=params, headers=await self._headers(account_id)
        )
        answer.raise_for_status()
        return answer.json()

    async def posts(self, account_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            page = await self._get(account_id, f"/v1/accounts/{account_id}/posts", params)
            found += page["data"]
            if page["next_cursor"] is None:
                return found
            params["cursor"] = page["next_cursor"]

    async def replies(self, account_id: str, conversation_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            path = f"/v1/conversations/{conversation_id}/replies"
            page = await self._get(account_id, path, params)
            found += page["data"]
            if page["next_cursor"] is None:
                return found
            params["cursor"] = page["next_cursor"]

    async def conversations(self, account_id: str, path: str) -> list[dict[str, Any]]:
        """A list paged by ``since`` (oldest first); items sharing an instant are kept."""
        seen: dict[str, dict[str, Any]] = {}
        since: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE}
            if since is not None:
                params["since"] = since
            page = (await self._get(account_id, path, params))["data"]
            fresh = [item for item in page if item["id"] not in seen]
            seen.update((item["id"], item) for item in fresh)
            if not fresh or len(page) < PAGE:
                return list(seen.values())
            last = datetime.fromisoformat(page[-1]["created_at"])
            since = (last - timedelta(microseconds=1)).isoformat()


async def check_posts_and_replies(engine: AsyncEngine, sandbox: Sandbox, planned: int) -> Check:
    """``planned``: the posts the engagements' plans hold. A plan slot already past when the
    plan is published is skipped by design; none published at all proves nothing, and fails."""
    async with engine.connect() as connection:
        publications = (
            await connection.execute(
                select(
                    publisher.Publication.status,
                    publisher.Publication.platform_post_id,
                    publisher.Publication.variant_id,
                    publisher.Publication.due_at,
                    publisher.Publication.channel,
                )
            )
        ).all()
        replies = (
            await connection.execute(
                select(
                    publisher.Reply.status,
                    publisher.Reply.platform_reply_id,
                    publisher.Reply.in_reply_to,
                    publisher.Reply.connection_id,
                )
            )
        ).all()
        connections = dict(
            (
                await connection.execute(
                    select(publisher.Connection.id, publisher.Connection.account_id)
                )
            ).all()
        )
    posts: list[dict[str, Any]] = []
    for account in await sandbox.accounts():
        posts += await sandbox.posts(account["id"])
    post_ids = {post["id"] for post in posts}
    expected_posts = {row.platform_post_id for row in publications if row.platform_post_id}
    per_key = Counter(post["idempotency_key"] for post in posts if post["idempotency_key"])
    per_text = Counter(f"{post['account_id']}|{post['text']}" for post in posts)
    per_slot = Counter(f"{row.variant_id}|{row.channel}|{row.due_at}" for row in publications)
    unknown_posts = sorted(post_ids - expected_posts)
    lost_posts = sorted(expected_posts - post_ids)
    statuses = Counter(row.status for row in publications)

    sandbox_replies: list[dict[str, Any]] = []
    for answered, connection_id in {(row.in_reply_to, row.connection_id) for row in replies}:
        account_id = connections.get(connection_id)
        if account_id is not None:
            sandbox_replies += await sandbox.replies(account_id, answered)
    expected_replies = {row.platform_reply_id for row in replies if row.platform_reply_id}
    reply_ids = {reply["id"] for reply in sandbox_replies}
    replies_per_text = Counter(f"{r['in_reply_to']}|{r['text']}" for r in sandbox_replies)
    reply_statuses = Counter(row.status for row in replies)
    figures = {
        "posts_planned": planned,
        "publications": len(publications),
        "publication_statuses": dict(statuses),
        "sandbox_posts": len(posts),
        "duplicate_posts_per_idempotency_key": len(_duplicates(per_key)),
        "duplicate_posts_per_text": len(_duplicates(per_text)),
        "duplicate_publications_per_variant_and_due": len(_duplicates(per_slot)),
        "posts_no_publication_knows": len(unknown_posts),
        "published_posts_missing_on_sandbox": len(lost_posts),
        "replies": len(replies),
        "reply_statuses": dict(reply_statuses),
        "sandbox_replies": len(sandbox_replies),
        "duplicate_replies_per_text": len(_duplicates(replies_per_text)),
        "replies_no_reply_row_knows": len(reply_ids - expected_replies),
        "sent_replies_missing_on_sandbox": len(expected_replies - reply_ids),
        "examples": (unknown_posts + lost_posts)[:EXAMPLES],
    }
    unfinished = sum(count for status, count in statuses.items() if status != "published")
    unsent = sum(count for status, count in reply_statuses.items() if status != "sent")
    ok = not any(
        (
            planned and not publications,
            _duplicates(per_key),
            _duplicates(per_text),
            _duplicates(per_slot),
            unknown_posts,
            lost_posts,
            unfinished,
            _duplicates(replies_per_text),
            reply_ids - expected_replies,
            expected_replies - reply_ids,
            unsent,
        )
    )
    return Check("no_duplicate_or_lost_posts_and_replies", ok, figures)


async def check_mentions(engine: AsyncEngine, sandbox: Sandbox) -> Check:
    """Every sandbox comment and mention a source has read past (its cursor) is stored."""
    async with engine.connect() as connection:
        sources = (
            await connection.execute(
                select(
                    listening.Source.organization_id,
                    listening.Source.settings,
                    listening.Source.cursor,
                    listening.Source.reads_from,
                ).where(listening.Source.kind == "sandbox")
            )
        ).all()
        stored_rows = (
            await connection.execute(
                select(listening.Mention.organization_id, listening.Mention.external_id).where(
                    listening.Mention.source == "sandbox"
                )
            )
        ).all()
        connections = dict(
            (
                await connection.execute(
                    select(publisher.Connection.id, publisher.Connection.account_id)
                )
            ).all()
        )
    stored: dict[uuid.UUID, set[str]] = {}
    for organization_id, external_id in stored_rows:
        stored.setdefault(organization_id, set()).add(external_id)
    generated = expected = lost = not_read_yet = 0
    examples: list[str] = []
    for source in sources:
        account_id = connections.get(uuid.UUID(str(source.settings.get("connection_id"))))
        since = source.cursor.get("since")
        if account_id is None:
            continue
        items = await sandbox.conversations(account_id, f"/v1/accounts/{account_id}/mentions")
        for post in await sandbox.posts(account_id):
            items += await sandbox.conversations(account_id, f"/v1/posts/{post['id']}/comments")
        generated += len(items)
        read_through = datetime.fromisoformat(since) if since else None
        kept = stored.get(source.organization_id, set())
        for item in items:
            created = datetime.fromisoformat(item["created_at"])
            if created < source.reads_from:
                continue
            if read_through is None or created > read_through:
                not_read_yet += 1
                continue
            expected += 1
            if item["id"] not in kept:
                lost += 1
                examples.append(item["id"])
    return Check(
        "no_lost_mentions",
        lost == 0 and expected > 0,
        {
            "sources": len(sources),
            "sandbox_conversations": generated,
            "read_past_by_listening": expected,
            "stored": sum(len(ids) for ids in stored.values()),
            "lost": lost,
            "after_the_cursor": not_read_yet,
            "examples": examples[:EXAMPLES],
        },
    )


# --- workflows ----------------------------------------------------------------------------------


async def check_workflows(client: Client, engagement_workflows: Iterable[str]) -> Check:
    latest: dict[str, tuple[datetime, str, WorkflowExecutionStatus | None]] = {}
    async for execution in client.list_workflows(""):
        known = latest.get(execution.id)
        if known is None or execution.start_time >= known[0]:
            latest[execution.id] = (execution.start_time, execution.workflow_type, execution.status)
    by_type: dict[str, Counter[str]] = {}
    unfinished: list[str] = []
    failed: list[str] = []
    for workflow_id, (_, kind, status) in latest.items():
        label = status.name if status is not None else "UNKNOWN"
        by_type.setdefault(kind, Counter())[label] += 1
        if status in FAILED:
            failed.append(workflow_id)
        elif kind in MUST_COMPLETE and status is not WorkflowExecutionStatus.COMPLETED:
            unfinished.append(workflow_id)
    engagements = set(engagement_workflows)
    absent = sorted(engagements - set(latest))
    return Check(
        "every_workflow_completed",
        not failed and not unfinished and not absent,
        {
            "workflows": len(latest),
            "by_type": {kind: dict(counts) for kind, counts in sorted(by_type.items())},
            "failed": failed[:EXAMPLES],
            "not_completed": unfinished[:EXAMPLES],
            "engagements_missing": absent,
        },
    )
