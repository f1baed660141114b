"""approved variants: the read model of the content service's review events

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 12:00:00.000000
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
        "reviewed_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_reviewed_items")),
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_reviewed_items_organization_id"),
        "reviewed_items",
        ["organization_id"],
        unique=False,
        schema="publisher",
    )
    op.create_table(
        "approved_variants",
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("media", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["publisher.reviewed_items.item_id"],
            name=op.f("fk_approved_variants_item_id_reviewed_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variant_id", name=op.f("pk_approved_variants")),
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_approved_variants_item_id"),
        "approved_variants",
        ["item_id"],
        unique=False,
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_approved_variants_organization_id"),
        "approved_variants",
        ["organization_id"],
        unique=False,
        schema="publisher",
    )


def downgrade() -> None:
    op.drop_table("approved_variants", schema="publisher")
    op.drop_table("reviewed_items", schema="publisher")
