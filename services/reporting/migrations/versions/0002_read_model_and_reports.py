"""the read model (facts other services' events told) and the reports with their documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 13:37:01.220003
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
        "account_metrics",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("connection_id", "collected_at", name=op.f("pk_account_metrics")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_account_metrics_org_channel",
        "account_metrics",
        ["organization_id", "channel"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "contest_entries",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("contest_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unclaimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_contest_entries")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_contest_entries_engagement",
        "contest_entries",
        ["engagement_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_minutes", sa.Float(), nullable=True),
        sa.Column("within_sla", sa.Boolean(), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversations")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_conversations_engagement_opened",
        "conversations",
        ["engagement_id", "opened_at"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "engagements",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("report_cadence", sa.String(length=16), nullable=False),
        sa.Column("time_scale", sa.Float(), nullable=True),
        sa.Column("phase", sa.String(length=32), nullable=True),
        sa.Column("ended", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_engagements")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_engagements_organization_id"),
        "engagements",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "known_engagements",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_known_engagements")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_known_engagements_organization_id"),
        "known_engagements",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "mentions",
        sa.Column("mention_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("sentiment", sa.String(length=16), nullable=True),
        sa.Column("region_code", sa.String(length=16), nullable=True),
        sa.Column("region_name", sa.String(length=200), nullable=True),
        sa.Column("query_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.PrimaryKeyConstraint("mention_id", "engagement_id", name=op.f("pk_mentions")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_mentions_engagement_at",
        "mentions",
        ["engagement_id", "published_at"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "objectives",
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("deliverable_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("engagement_id", name=op.f("pk_objectives")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_objectives_organization_id"),
        "objectives",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "organizations",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organizations")),
        schema="reporting",
    )
    op.create_table(
        "post_metrics",
        sa.Column("publication_id", sa.Uuid(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=True),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("saves", sa.BigInteger(), nullable=True),
        sa.Column("video_views", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("publication_id", "collected_at", name=op.f("pk_post_metrics")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_post_metrics_organization_id"),
        "post_metrics",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "posts",
        sa.Column("publication_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_class", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("publication_id", name=op.f("pk_posts")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_posts_engagement_due",
        "posts",
        ["engagement_id", "due_at"],
        unique=False,
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_posts_organization_id"),
        "posts",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "queries",
        sa.Column("query_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("competitor", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("query_id", name=op.f("pk_queries")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_queries_engagement_id"),
        "queries",
        ["engagement_id"],
        unique=False,
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_queries_organization_id"),
        "queries",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "report_documents",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("report_id", "format", name=op.f("pk_report_documents")),
        schema="reporting",
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", postgresql.ARRAY(sa.String(length=320)), nullable=False),
        sa.Column("kpis", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        schema="reporting",
    )
    op.create_index(
        "ix_reporting_reports_engagement",
        "reports",
        ["engagement_id", "period_start"],
        unique=False,
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_reports_organization_id"),
        "reports",
        ["organization_id"],
        unique=False,
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_reporting_reports_organization_id"), table_name="reports", schema="reporting"
    )
    op.drop_index("ix_reporting_reports_engagement", table_name="reports", schema="reporting")
    op.drop_table("reports", schema="reporting")
    op.drop_table("report_documents", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_queries_organization_id"), table_name="queries", schema="reporting"
    )
    op.drop_index(
        op.f("ix_reporting_queries_engagement_id"), table_name="queries", schema="reporting"
    )
    op.drop_table("queries", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_posts_organization_id"), table_name="posts", schema="reporting"
    )
    op.drop_index("ix_reporting_posts_engagement_due", table_name="posts", schema="reporting")
    op.drop_table("posts", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_post_metrics_organization_id"),
        table_name="post_metrics",
        schema="reporting",
    )
    op.drop_table("post_metrics", schema="reporting")
    op.drop_table("organizations", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_objectives_organization_id"), table_name="objectives", schema="reporting"
    )
    op.drop_table("objectives", schema="reporting")
    op.drop_index("ix_reporting_mentions_engagement_at", table_name="mentions", schema="reporting")
    op.drop_table("mentions", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_known_engagements_organization_id"),
        table_name="known_engagements",
        schema="reporting",
    )
    op.drop_table("known_engagements", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_engagements_organization_id"),
        table_name="engagements",
        schema="reporting",
    )
    op.drop_table("engagements", schema="reporting")
    op.drop_index(
        "ix_reporting_conversations_engagement_opened",
        table_name="conversations",
        schema="reporting",
    )
    op.drop_table("conversations", schema="reporting")
    op.drop_index(
        "ix_reporting_contest_entries_engagement", table_name="contest_entries", schema="reporting"
    )
    op.drop_table("contest_entries", schema="reporting")
    op.drop_index(
        "ix_reporting_account_metrics_org_channel", table_name="account_metrics", schema="reporting"
    )
    op.drop_table("account_metrics", schema="reporting")
