"""sentiment corrections and the sentiment models trained on an organisation's corrections

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "listening"


def upgrade() -> None:
    op.create_table(
        "sentiment_corrections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mention_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("previous_label", sa.String(length=16), nullable=True),
        sa.Column("previous_model_version", sa.String(length=64), nullable=False),
        sa.Column("corrected_by", sa.String(length=200), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_corrections")),
        sa.UniqueConstraint("mention_id", name=op.f("uq_sentiment_corrections_mention_id")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_listening_sentiment_corrections_organization_id"),
        "sentiment_corrections",
        ["organization_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "sentiment_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=True),
        sa.Column(
            "languages",
            postgresql.ARRAY(sa.String(length=8)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("cross_validated_score", sa.Float(), nullable=True),
        sa.Column("default_model_score", sa.Float(), nullable=True),
        sa.Column("manifest", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("parameters", sa.LargeBinary(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_models")),
        sa.UniqueConstraint("training_id", name=op.f("uq_sentiment_models_training_id")),
        sa.UniqueConstraint("version", name=op.f("uq_sentiment_models_version")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sentiment_models_organization_created",
        "sentiment_models",
        ["organization_id", "created_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("sentiment_models", schema=SCHEMA)
    op.drop_table("sentiment_corrections", schema=SCHEMA)
