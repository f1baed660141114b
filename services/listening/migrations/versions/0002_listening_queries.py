"""listening queries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:10:00.000000
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
        "queries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("terms", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=200), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queries")),
        schema="listening",
    )
    op.create_index(
        op.f("ix_listening_queries_engagement_id"),
        "queries",
        ["engagement_id"],
        unique=False,
        schema="listening",
    )
    op.create_index(
        op.f("ix_listening_queries_organization_id"),
        "queries",
        ["organization_id"],
        unique=False,
        schema="listening",
    )
    op.create_index(
        op.f("ix_listening_queries_status"),
        "queries",
        ["status"],
        unique=False,
        schema="listening",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_listening_queries_status"), table_name="queries", schema="listening")
    op.drop_index(
        op.f("ix_listening_queries_organization_id"), table_name="queries", schema="listening"
    )
    op.drop_index(
        op.f("ix_listening_queries_engagement_id"), table_name="queries", schema="listening"
    )
    op.drop_table("queries", schema="listening")
