"""engagement summaries: the list of engagements' read model

Kept by ``strategy.record_lifecycle_events`` from now on; an engagement recorded before this
revision gets its summary, folded from its whole timeline, with its next lifecycle fact.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 21:30:05.371039
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagement_summaries",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("pending_approvals", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tasks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("open_task_count", sa.Integer(), nullable=False),
        sa.Column("overdue_task_count", sa.Integer(), nullable=False),
        sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_engagement_summaries_engagement_id_engagements"),
        ),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_engagement_summaries")),
        schema="strategy",
    )
    op.create_index(
        "ix_engagement_summaries_waiting_roles",
        "engagement_summaries",
        ["waiting_roles"],
        unique=False,
        schema="strategy",
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_strategy_engagement_summaries_organization_id"),
        "engagement_summaries",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_engagement_summaries_organization_id"),
        table_name="engagement_summaries",
        schema="strategy",
    )
    op.drop_index(
        "ix_engagement_summaries_waiting_roles",
        table_name="engagement_summaries",
        schema="strategy",
        postgresql_using="gin",
    )
    op.drop_table("engagement_summaries", schema="strategy")
