"""mentions and dead letters: what ingestion stores, and what it could not read

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "listening"


def _code(name: str, length: int = 16) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=True)


def upgrade() -> None:
    op.create_table(
        "mentions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "engagement_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "query_ids", postgresql.ARRAY(sa.Uuid()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("author_handle", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=300), nullable=True),
        sa.Column("author_location", sa.String(length=300), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hashtags", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("accounts", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sentiment_label", sa.String(length=16), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("sentiment_model_version", sa.String(length=64), nullable=False),
        _code("place_level"),
        _code("place_code"),
        sa.Column("place_name", sa.String(length=200), nullable=True),
        _code("place_method"),
        sa.Column("place_confidence", sa.Float(), nullable=True),
        _code("comune_code"),
        sa.Column("comune_name", sa.String(length=200), nullable=True),
        _code("province_code"),
        sa.Column("province_name", sa.String(length=200), nullable=True),
        _code("region_code"),
        sa.Column("region_name", sa.String(length=200), nullable=True),
        _code("country_code", 2),
        sa.Column("country_name", sa.String(length=200), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple'::regconfig, text)", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint(
            "organization_id", "source", "external_id", name=op.f("uq_mentions_organization_id")
        ),
        schema=SCHEMA,
    )
    for name, columns, using in (
        ("ix_mentions_engagement_ids", ["engagement_ids"], "gin"),
        ("ix_mentions_query_ids", ["query_ids"], "gin"),
        ("ix_mentions_search", ["search"], "gin"),
        ("ix_mentions_organization_published", ["organization_id", "published_at", "id"], None),
    ):
        op.create_index(name, "mentions", columns, schema=SCHEMA, postgresql_using=using)
    for column in ("comune_code", "province_code", "region_code", "country_code"):
        op.create_index(
            op.f(f"ix_listening_mentions_{column}"), "mentions", [column], schema=SCHEMA
        )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        schema=SCHEMA,
    )
    for column in ("organization_id", "created_at"):
        op.create_index(
            op.f(f"ix_listening_dead_letters_{column}"), "dead_letters", [column], schema=SCHEMA
        )


def downgrade() -> None:
    op.drop_table("dead_letters", schema=SCHEMA)
    op.drop_table("mentions", schema=SCHEMA)
