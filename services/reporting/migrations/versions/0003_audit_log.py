"""the audit log: who did what, when, in which organisation, and how it ended

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_entries")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_audit_entries_org_time",
        "audit_entries",
        ["organization_id", "occurred_at", "event_id"],
        unique=False,
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_reporting_audit_entries_org_time", table_name="audit_entries", schema="reporting"
    )
    op.drop_table("audit_entries", schema="reporting")
