"""replies: answers to comments and mentions, each sent once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("in_reply_to", sa.String(length=300), nullable=False),
        sa.Column("post_external_id", sa.String(length=300), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("platform_reply_id", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
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
            ["connection_id"],
            ["publisher.connections.id"],
            name=op.f("fk_replies_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_replies_organization_id"),
        "replies",
        ["organization_id"],
        unique=False,
        schema="publisher",
    )
    op.create_index(
        op.f("ix_publisher_replies_connection_id"),
        "replies",
        ["connection_id"],
        unique=False,
        schema="publisher",
    )


def downgrade() -> None:
    op.drop_table("replies", schema="publisher")
