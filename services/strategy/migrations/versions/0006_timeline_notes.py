"""timeline notes: alerts and SLA breaches other services publish, on the engagement timeline

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_notes",
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
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_timeline_notes_engagement_id_engagements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_notes")),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_timeline_notes_engagement_id"),
        "timeline_notes",
        ["engagement_id"],
        unique=False,
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_timeline_notes_organization_id"),
        "timeline_notes",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_timeline_notes_organization_id"),
        table_name="timeline_notes",
        schema="strategy",
    )
    op.drop_index(
        op.f("ix_strategy_timeline_notes_engagement_id"),
        table_name="timeline_notes",
        schema="strategy",
    )
    op.drop_table("timeline_notes", schema="strategy")
