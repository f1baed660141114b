"""watched sites: the client's site feed or sitemap and the pages drafted from it

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-04 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = ("website",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watched_sites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("utm_campaign", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("watched_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_sites")),
        sa.UniqueConstraint("engagement_id", "url", name=op.f("uq_watched_sites_engagement_id")),
        schema="content",
    )
    for column in ("organization_id", "engagement_id", "next_poll_at"):
        op.create_index(
            op.f(f"ix_content_watched_sites_{column}"),
            "watched_sites",
            [column],
            unique=False,
            schema="content",
        )
    op.create_table(
        "site_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("page_url", sa.String(length=2048), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("og_title", sa.String(length=300), nullable=True),
        sa.Column("og_description", sa.Text(), nullable=True),
        sa.Column("og_image", sa.String(length=2048), nullable=True),
        sa.Column("skipped_channels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "drafted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content.content_items.id"],
            name=op.f("fk_site_drafts_item_id_content_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["content.watched_sites.id"],
            name=op.f("fk_site_drafts_site_id_watched_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_drafts")),
        sa.UniqueConstraint("site_id", "page_url", name=op.f("uq_site_drafts_site_id")),
        schema="content",
    )
    for column in ("organization_id", "site_id"):
        op.create_index(
            op.f(f"ix_content_site_drafts_{column}"),
            "site_drafts",
            [column],
            unique=False,
            schema="content",
        )


def downgrade() -> None:
    op.drop_table("site_drafts", schema="content")
    op.drop_table("watched_sites", schema="content")
