"""client handbooks: versioned renderings of the handbook

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handbooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_handbooks_engagement_id_engagements"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["strategy.organizations.id"],
            name=op.f("fk_handbooks_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handbooks")),
        sa.UniqueConstraint("engagement_id", "version", name="uq_handbooks_version"),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_handbooks_organization_id"),
        "handbooks",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_handbooks_organization_id"), table_name="handbooks", schema="strategy"
    )
    op.drop_table("handbooks", schema="strategy")
