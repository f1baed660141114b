"""Organisation B's rows: those written directly as the listening worker writes them, and every
row of every service that names one of B's records, read back to see what a request changed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.models import Alert, Conversation, ConversationMessage, DeadLetter, Mention
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import wait_until
from tests.tenancy_calls import T0, Tenant

SERVICE_SCHEMAS = ("strategy", "content", "publisher", "listening", "reporting")
# Rows kept by the machinery, not by anyone's request: the outboxes (their relay marks them
# published), the consumers' processed events and the services' copies of other services' facts.
MACHINERY_TABLES = frozenset({"outbox", "processed_events", "alembic_version"})


async def insert_listening_rows(
    sessions: async_sessionmaker[AsyncSession], organization_id: str, engagement_id: str
) -> tuple[str, str, str, str, str]:
    """A mention, its conversation with a reply awaiting review, an alert and a dead letter,
    written as the listening worker's consumers and alerts round write them."""
    organization, engagement = uuid.UUID(organization_id), uuid.UUID(engagement_id)
    mention = Mention(
        organization_id=organization,
        engagement_ids=[engagement],
        query_ids=[],
        source="sandbox",
        external_id=uuid.uuid4().hex,
        author_handle="giulia.r",
        text="Avete posti per sabato sera?",
        published_at=T0,
        hashtags=[],
        accounts=[],
        language="it",
        sentiment_label="neutral",
        sentiment_model_version="test",
    )
    conversation = Conversation(
        organization_id=organization,
        engagement_id=engagement,
        source="sandbox",
        author_handle="giulia.r",
        first_mention_id=mention.id,
        category="question",
        triage_reason="asks a question",
        triaged_by="rules",
        state="open",
        opened_at=T0,
        due_soon_at=T0 + timedelta(days=3650),
        first_response_due_at=T0 + timedelta(days=3650),
        escalate_at=T0 + timedelta(days=3650),
        updated_at=T0,
    )
    async with session_scope(sessions, SYSTEM) as session:
        session.add(mention)
        await session.flush()
        conversation.first_mention_id = mention.id
        session.add(conversation)
        await session.flush()
        reply = ConversationMessage(
            organization_id=organization,
            conversation_id=conversation.id,
            direction="out",
            author="client",
            text="Sì, vi aspettiamo!",
            status="awaiting_review",
            created_at=T0,
        )
        alert = Alert(
            organization_id=organization,
            engagement_id=engagement,
            rule_id=uuid.uuid4(),
            kind="keyword",
            rule_name="Food safety",
            window_start=T0 - timedelta(hours=1),
            window_end=T0,
            status="open",
            evidence={},
            responsible_role="manager",
            raised_at=T0,
        )
        dead_letter = DeadLetter(
            organization_id=organization,
            consumer="listening-ingestion",
            event_id=uuid.uuid4().hex,
            event_type="listening.raw_mentions",
            reason="unreadable",
            payload={},
        )
        session.add_all(
            [
                ConversationMessage(
                    organization_id=organization,
                    conversation_id=conversation.id,
                    direction="in",
                    mention_id=mention.id,
                    external_id=mention.external_id,
                    author="giulia.r",
                    text=mention.text,
                    status="received",
                    created_at=T0,
                ),
                reply,
                alert,
                dead_letter,
            ]
        )
        await session.flush()
        return (
            str(mention.id),
            str(conversation.id),
            str(reply.id),
            str(alert.id),
            str(dead_letter.id),
        )


async def _tables(session: AsyncSession) -> list[str]:
    found = await session.execute(
        text(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE' "
            "ORDER BY 1"
        ),
        {"schemas": list(SERVICE_SCHEMAS)},
    )
    return [name for name in found.scalars() if name.split(".", 1)[1] not in MACHINERY_TABLES]


async def rows_of(sessions: async_sessionmaker[AsyncSession], b: Tenant) -> dict[str, list[str]]:
    """Every row of every service that names one of B's records, as JSON: what B owns."""
    pattern = "|".join(re.escape(identifier) for identifier in b.ids())
    snapshot: dict[str, list[str]] = {}
    async with sessions() as session:
        every_table = " UNION ALL ".join(
            f"SELECT '{table}', to_jsonb(t)::text FROM {table} t "  # noqa: S608 - catalogue names
            "WHERE to_jsonb(t)::text ~ :pattern"
            for table in await _tables(session)
        )
        rows = await session.execute(text(every_table + " ORDER BY 1, 2"), {"pattern": pattern})
        for table, row in rows.all():
            snapshot.setdefault(table, []).append(row)
    return snapshot


async def wait_until_settled(sessions: async_sessionmaker[AsyncSession], b: Tenant) -> None:
    """Wait until the services' consumers and workflows are done with B's setup (its report
    generated, the read models fed): two snapshots a second apart agree."""
    previous: dict[str, list[str]] = {}

    async def still() -> bool:
        nonlocal previous
        current = await rows_of(sessions, b)
        settled = current == previous
        previous = current
        return settled

    await wait_until(still, timeout=60, interval=1.0)


def changes_between(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    changed = []
    for table in sorted(set(before) | set(after)):
        gone = set(before.get(table, [])) - set(after.get(table, []))
        new = set(after.get(table, [])) - set(before.get(table, []))
        changed += [f"{table}: - {row[:300]}" for row in sorted(gone)]
        changed += [f"{table}: + {row[:300]}" for row in sorted(new)]
    return changed
