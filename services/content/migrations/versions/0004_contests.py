"""contests: rules, entries and verifiable draws

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 19:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("contests",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mechanism", sa.String(length=32), nullable=False),
        sa.Column("keyword", sa.String(length=101), nullable=False),
        sa.Column("minimum_age", sa.Integer(), nullable=True),
        sa.Column("allowed_regions", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("reserves", sa.Integer(), nullable=False),
        sa.Column("claim_window_hours", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("draw_requested_by", sa.String(length=200), nullable=True),
        sa.Column("result_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contests")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_contests_organization_id"),
        "contests",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_index(
        op.f("ix_content_contests_engagement_id"),
        "contests",
        ["engagement_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "contest_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("contest_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_handle", sa.String(length=200), nullable=False),
        sa.Column("entrant_key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("declared_age", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=16), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_mention_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rejection_reason", sa.String(length=40), nullable=True),
        sa.Column("award", sa.String(length=16), nullable=True),
        sa.Column("draw_number", sa.Integer(), nullable=True),
        sa.Column("draw_rank", sa.Integer(), nullable=True),
        sa.Column("claim_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["content.contests.id"],
            name=op.f("fk_contest_entries_contest_id_contests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_entries")),
        sa.UniqueConstraint(
            "contest_id", "source_mention_id", name=op.f("uq_contest_entries_mention")
        ),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_contest_entries_organization_id"),
        "contest_entries",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_index(
        op.f("ix_content_contest_entries_contest_id"),
        "contest_entries",
        ["contest_id"],
        unique=False,
        schema="content",
    )
    # One accepted entry per user, platform and contest; rejected attempts do not count.
    op.create_index(
        "uq_contest_entries_accepted_entrant",
        "contest_entries",
        ["contest_id", "platform", "entrant_key"],
        unique=True,
        schema="content",
        postgresql_where=sa.text("status = 'accepted'"),
    )
    op.create_table(
        "contest_draws",
        sa.Column("contest_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("entry_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("entries_hash", sa.String(length=64), nullable=False),
        sa.Column("picks", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["content.contests.id"],
            name=op.f("fk_contest_draws_contest_id_contests"),
        ),
        sa.PrimaryKeyConstraint("contest_id", "number", name=op.f("pk_contest_draws")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_contest_draws_organization_id"),
        "contest_draws",
        ["organization_id"],
        unique=False,
        schema="content",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_content_contest_draws_organization_id"),
        table_name="contest_draws",
        schema="content",
    )
    op.drop_table("contest_draws", schema="content")
    op.drop_index(
        "uq_contest_entries_accepted_entrant", table_name="contest_entries", schema="content"
    )
    op.drop_index(
        op.f("ix_content_contest_entries_contest_id"),
        table_name="contest_entries",
        schema="content",
    )
    op.drop_index(
        op.f("ix_content_contest_entries_organization_id"),
        table_name="contest_entries",
        schema="content",
    )
    op.drop_table("contest_entries", schema="content")
    op.drop_index(
        op.f("ix_content_contests_engagement_id"), table_name="contests", schema="content"
    )
    op.drop_index(
        op.f("ix_content_contests_organization_id"), table_name="contests", schema="content"
    )
    op.drop_table("contests", schema="content")
