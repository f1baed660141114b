"""content items, per-channel variants, media and the review audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("items",)
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_media_storage_key")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_media_organization_id"),
        "media",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "content_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("media_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("client_approval_required", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agency_approved_by", sa.String(length=200), nullable=True),
        sa.Column("client_approved_by", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _timestamp("updated_at"),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
        schema="content",
    )
    for column in ("organization_id", "engagement_id", "status"):
        op.create_index(
            op.f(f"ix_content_content_items_{column}"),
            "content_items",
            [column],
            unique=False,
            schema="content",
        )
    op.create_table(
        "variants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("media_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        _timestamp("updated_at"),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content.content_items.id"],
            name=op.f("fk_variants_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variants")),
        sa.UniqueConstraint("item_id", "channel", name=op.f("uq_variants_item_id")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_variants_organization_id"),
        "variants",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "review_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _timestamp("at"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content.content_items.id"],
            name=op.f("fk_review_events_item_id_content_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
        schema="content",
    )
    for column in ("item_id", "organization_id"):
        op.create_index(
            op.f(f"ix_content_review_events_{column}"),
            "review_events",
            [column],
            unique=False,
            schema="content",
        )


def downgrade() -> None:
    op.drop_table("review_events", schema="content")
    op.drop_table("variants", schema="content")
    op.drop_table("content_items", schema="content")
    op.drop_table("media", schema="content")
