"""known engagements: the read model of strategy's engagement_created events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_engagements",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_known_engagements")),
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_known_engagements_organization_id"),
        "known_engagements",
        ["organization_id"],
        unique=False,
        schema="publisher",
    )


def downgrade() -> None:
    op.drop_table("known_engagements", schema="publisher")
