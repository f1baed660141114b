"""engagement listening: engagements whose listening started at seeding (queries may wait for it)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "listening"


def upgrade() -> None:
    op.create_table(
        "engagement_listening",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_engagement_listening")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_engagement_listening_organization_id"),
        "engagement_listening",
        ["organization_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("engagement_listening", schema=SCHEMA)
