"""deliverables without idempotency_key: only the removed save_deliverable activity wrote it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        "uq_deliverables_idempotency_key", "deliverables", type_="unique", schema="strategy"
    )
    op.drop_column("deliverables", "idempotency_key", schema="strategy")


def downgrade() -> None:
    op.add_column(
        "deliverables",
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        schema="strategy",
    )
    op.create_unique_constraint(
        "uq_deliverables_idempotency_key",
        "deliverables",
        ["engagement_id", "kind", "idempotency_key"],
        schema="strategy",
    )
