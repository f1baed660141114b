"""editorial plan: plans, their slots and their history

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 18:52:06.071478
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("plan",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("shortfalls", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("engagement_id", name=op.f("uq_plans_engagement_id")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plans_organization_id"),
        "plans",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "plan_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["content.plans.id"],
            name=op.f("fk_plan_history_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_history")),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plan_history_organization_id"),
        "plan_history",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plan_history_plan_id"),
        "plan_history",
        ["plan_id"],
        unique=False,
        schema="content",
    )
    op.create_table(
        "plan_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=63), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("pillar", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("formats", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("local_start", sa.DateTime(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=True),
        sa.Column("filled_by", sa.String(length=200), nullable=True),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["content.plans.id"],
            name=op.f("fk_plan_slots_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_slots")),
        sa.UniqueConstraint(
            "plan_id", "rule_id", "channel", "local_start", name=op.f("uq_plan_slots_plan_id")
        ),
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plan_slots_organization_id"),
        "plan_slots",
        ["organization_id"],
        unique=False,
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plan_slots_plan_id_starts_at"),
        "plan_slots",
        ["plan_id", "starts_at"],
        unique=False,
        schema="content",
    )
    op.create_index(
        op.f("ix_content_plan_slots_variant_id"),
        "plan_slots",
        ["variant_id"],
        unique=False,
        schema="content",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_content_plan_slots_variant_id"), table_name="plan_slots", schema="content"
    )
    op.drop_index(
        op.f("ix_content_plan_slots_plan_id_starts_at"), table_name="plan_slots", schema="content"
    )
    op.drop_index(
        op.f("ix_content_plan_slots_organization_id"), table_name="plan_slots", schema="content"
    )
    op.drop_table("plan_slots", schema="content")
    op.drop_index(
        op.f("ix_content_plan_history_plan_id"), table_name="plan_history", schema="content"
    )
    op.drop_index(
        op.f("ix_content_plan_history_organization_id"), table_name="plan_history", schema="content"
    )
    op.drop_table("plan_history", schema="content")
    op.drop_index(op.f("ix_content_plans_organization_id"), table_name="plans", schema="content")
    op.drop_table("plans", schema="content")
