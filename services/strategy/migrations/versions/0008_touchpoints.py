"""touchpoints of the real world, their tracked links and their daily scan counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "touchpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("destination_url", sa.String(length=2048), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("objective_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('event', 'shop', 'signage', 'print')", name=op.f("ck_touchpoints_kind")
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_touchpoints_engagement_id_engagements"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["strategy.organizations.id"],
            name=op.f("fk_touchpoints_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touchpoints")),
        sa.UniqueConstraint("code", name=op.f("uq_touchpoints_code")),
        sa.UniqueConstraint("engagement_id", "name", name="uq_touchpoints_engagement_name"),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_touchpoints_engagement_id"),
        "touchpoints",
        ["engagement_id"],
        unique=False,
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_touchpoints_organization_id"),
        "touchpoints",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )
    # Counts only: no address, user agent or moment of a hit has a column to be kept in.
    op.create_table(
        "touchpoint_scans",
        sa.Column("touchpoint_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("medium", sa.String(length=8), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("medium IN ('qr', 'link')", name=op.f("ck_touchpoint_scans_medium")),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["strategy.touchpoints.id"],
            name=op.f("fk_touchpoint_scans_touchpoint_id_touchpoints"),
        ),
        sa.PrimaryKeyConstraint("touchpoint_id", "day", "medium", name=op.f("pk_touchpoint_scans")),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_touchpoint_scans_organization_id"),
        "touchpoint_scans",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_touchpoint_scans_organization_id"),
        table_name="touchpoint_scans",
        schema="strategy",
    )
    op.drop_table("touchpoint_scans", schema="strategy")
    op.drop_index(
        op.f("ix_strategy_touchpoints_organization_id"),
        table_name="touchpoints",
        schema="strategy",
    )
    op.drop_index(
        op.f("ix_strategy_touchpoints_engagement_id"),
        table_name="touchpoints",
        schema="strategy",
    )
    op.drop_table("touchpoints", schema="strategy")
