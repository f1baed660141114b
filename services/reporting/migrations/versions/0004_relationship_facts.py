"""seeding and training facts: outreach and training events with the figures they carry

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 00:40:00.000000
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
        "relationship_facts",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("area", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step_status", sa.String(length=16), nullable=True),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_relationship_facts")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_relationship_facts_moment",
        "relationship_facts",
        ["engagement_id", "area", "occurred_at"],
        unique=False,
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_reporting_relationship_facts_moment",
        table_name="relationship_facts",
        schema="reporting",
    )
    op.drop_table("relationship_facts", schema="reporting")
