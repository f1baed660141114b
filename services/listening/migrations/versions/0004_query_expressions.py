"""query expressions: a boolean expression, exclusions, sources, a start date, competitor

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.listening.query_language import expression_from_terms

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channels that were listening sources when sources were added: a query switched on before
# reads from those of its channels.
CHANNEL_SOURCES = ("facebook", "instagram", "x", "youtube", "mastodon", "sandbox")


def upgrade() -> None:
    op.add_column("queries", sa.Column("expression", sa.Text(), nullable=True), schema="listening")
    op.add_column("queries", sa.Column("exclusions", sa.Text(), nullable=True), schema="listening")
    op.add_column(
        "queries",
        sa.Column("sources", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        schema="listening",
    )
    op.add_column("queries", sa.Column("starts_on", sa.Date(), nullable=True), schema="listening")
    op.add_column(
        "queries",
        sa.Column("competitor", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="listening",
    )
    # An older query listens for any of its terms: the expression the API makes from terms
    # today, so a query reads the same whether it was switched on before or after.
    connection = op.get_bind()
    queries = connection.execute(sa.text("SELECT id, terms, channels FROM listening.queries"))
    for query_id, terms, channels in queries.all():
        connection.execute(
            sa.text(
                "UPDATE listening.queries SET expression = :expression, sources = :sources "
                "WHERE id = :id"
            ),
            {
                "id": query_id,
                "expression": str(expression_from_terms(terms)),
                "sources": [channel for channel in channels if channel in CHANNEL_SOURCES],
            },
        )
    # It has listened since the day it was switched on.
    op.execute("UPDATE listening.queries SET starts_on = (created_at AT TIME ZONE 'UTC')::date")
    for column in ("expression", "sources", "starts_on"):
        op.alter_column("queries", column, nullable=False, schema="listening")


def downgrade() -> None:
    for column in ("competitor", "starts_on", "sources", "exclusions", "expression"):
        op.drop_column("queries", column, schema="listening")
