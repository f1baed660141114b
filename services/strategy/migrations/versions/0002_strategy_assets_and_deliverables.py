"""strategy assets and versioned deliverables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:54:29.369226
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["strategy.organizations.id"],
            name=op.f("fk_assets_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_assets_organization_id"),
        "assets",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )
    op.create_table(
        "deliverables",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_as", sa.String(length=16), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('draft', 'approved')", name=op.f("ck_deliverables_status")),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f("fk_deliverables_engagement_id_engagements"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["strategy.organizations.id"],
            name=op.f("fk_deliverables_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliverables")),
        sa.UniqueConstraint(
            "engagement_id", "kind", "idempotency_key", name="uq_deliverables_idempotency_key"
        ),
        sa.UniqueConstraint("engagement_id", "kind", "version", name="uq_deliverables_version"),
        schema="strategy",
    )
    op.create_index(
        op.f("ix_strategy_deliverables_organization_id"),
        "deliverables",
        ["organization_id"],
        unique=False,
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_strategy_deliverables_organization_id"),
        table_name="deliverables",
        schema="strategy",
    )
    op.drop_table("deliverables", schema="strategy")
    op.drop_index(
        op.f("ix_strategy_assets_organization_id"), table_name="assets", schema="strategy"
    )
    op.drop_table("assets", schema="strategy")
