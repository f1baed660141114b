"""lifecycle events: the engagement timeline

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_lifecycle_events_engagement_id_engagements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_lifecycle_events_seq")),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_lifecycle_events_engagement_id"),
        "lifecycle_events",
        ["engagement_id"],
        unique=False,
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_lifecycle_events_organization_id"),
        "lifecycle_events",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_lifecycle_events_organization_id"),
        table_name="lifecycle_events",
        schema="strategy",
    )
    op.drop_index(
        op.f("ix_strategy_lifecycle_events_engagement_id"),
        table_name="lifecycle_events",
        schema="strategy",
    )
    op.drop_table("lifecycle_events", schema="strategy")
