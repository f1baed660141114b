"""conversations: the inbox, its messages and notes, saved replies, inbox settings, and the
engagements' intervention modes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "listening"


def upgrade() -> None:
    op.create_table(
        "engagement_modes",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_engagement_modes")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_engagement_modes_organization_id"),
        "engagement_modes",
        ["organization_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "inbox_settings",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("target_first_response_minutes", sa.Integer(), nullable=False),
        sa.Column("business_days", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("escalate_after_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_inbox_settings")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_inbox_settings_organization_id"),
        "inbox_settings",
        ["organization_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("author_handle", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=300), nullable=True),
        sa.Column("first_mention_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("triage_reason", sa.Text(), nullable=False),
        sa.Column("triaged_by", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee_subject", sa.String(length=200), nullable=True),
        sa.Column("assignee_role", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_soon_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_minutes", sa.Float(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_minutes", sa.Float(), nullable=True),
        sa.Column("sla_due_soon", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("task_owner", sa.String(length=200), nullable=True),
        sa.Column("task_escalated_to", sa.String(length=32), nullable=True),
        sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reply_failure", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_conversations_organization_id"),
        "conversations",
        ["organization_id"],
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_conversations_state"), "conversations", ["state"], schema=SCHEMA
    )
    op.create_index(
        "ix_conversations_engagement_opened",
        "conversations",
        ["engagement_id", "opened_at", "id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ux_conversations_thread",
        "conversations",
        ["engagement_id", "source", "author_handle"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("state IN ('open', 'assigned', 'answered')"),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("mention_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("saved_reply_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("platform_reply_id", sa.String(length=300), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{SCHEMA}.conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
        sa.UniqueConstraint(
            "conversation_id", "mention_id", name=op.f("uq_conversation_messages_conversation_id")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_conversation_messages_conversation",
        "conversation_messages",
        ["conversation_id", "created_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{SCHEMA}.conversations.id"],
            name=op.f("fk_conversation_notes_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_conversation_notes_conversation_id"),
        "conversation_notes",
        ["conversation_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_replies")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_saved_replies_organization_id"),
        "saved_replies",
        ["organization_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("saved_replies", schema=SCHEMA)
    op.drop_table("conversation_notes", schema=SCHEMA)
    op.drop_table("conversation_messages", schema=SCHEMA)
    op.drop_table("conversations", schema=SCHEMA)
    op.drop_table("inbox_settings", schema=SCHEMA)
    op.drop_table("engagement_modes", schema=SCHEMA)
