"""engagements: the report cadence, a term of the contract (weekly for those made before)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "engagements",
        sa.Column("report_cadence", sa.String(length=16), server_default="weekly", nullable=False),
        schema="strategy",
    )


def downgrade() -> None:
    op.drop_column("engagements", "report_cadence", schema="strategy")
