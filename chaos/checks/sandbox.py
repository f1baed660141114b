"""The sandbox after the faults: each publication's post and each reply there once and nothing
else, and every comment and mention a listening source has read past stored as a mention."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chaos.checks.result import EXAMPLES, Check, duplicated_keys
from services.listening import models as listening
from services.publisher import models as publisher

PAGE = 100
REDIRECT_URI = "https://chaos.atlantide.local/callback"


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
        "duplicate_posts_per_idempotency_key": len(duplicated_keys(per_key)),
        "duplicate_posts_per_text": len(duplicated_keys(per_text)),
        "duplicate_publications_per_variant_and_due": len(duplicated_keys(per_slot)),
        "posts_no_publication_knows": len(unknown_posts),
        "published_posts_missing_on_sandbox": len(lost_posts),
        "replies": len(replies),
        "reply_statuses": dict(reply_statuses),
        "sandbox_replies": len(sandbox_replies),
        "duplicate_replies_per_text": len(duplicated_keys(replies_per_text)),
        "replies_no_reply_row_knows": len(reply_ids - expected_replies),
        "sent_replies_missing_on_sandbox": len(expected_replies - reply_ids),
        "examples": (unknown_posts + lost_posts)[:EXAMPLES],
    }
    unfinished = sum(count for status, count in statuses.items() if status != "published")
    unsent = sum(count for status, count in reply_statuses.items() if status != "sent")
    ok = not any(
        (
            planned and not publications,
            duplicated_keys(per_key),
            duplicated_keys(per_text),
            duplicated_keys(per_slot),
            unknown_posts,
            lost_posts,
            unfinished,
            duplicated_keys(replies_per_text),
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
