"""seeding outreach lists and steps, training plans, attendance and competences

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 23:50:00.000000
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "strategy"
STATUSES = "'to_contact', 'contacted', 'replied', 'engaged', 'declined'"
# (table, indexed column) of every index these tables have.
INDEXES = (
    ("outreach_contacts", "organization_id"),
    ("outreach_contacts", "engagement_id"),
    ("outreach_contacts", "due_on"),
    ("outreach_steps", "organization_id"),
    ("outreach_steps", "engagement_id"),
    ("outreach_steps", "contact_id"),
    ("training_participants", "organization_id"),
    ("training_participants", "engagement_id"),
    ("training_sessions", "organization_id"),
    ("training_sessions", "engagement_id"),
    ("training_attendance", "organization_id"),
    ("training_competences", "organization_id"),
    ("training_competences", "engagement_id"),
    ("training_competence_checks", "organization_id"),
    ("training_competence_checks", "engagement_id"),
)


def _created_at() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _owned_by(table: str) -> list[sa.ForeignKeyConstraint]:
    """The organisation and engagement foreign keys of ``table``."""
    return [
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["strategy.organizations.id"],
            name=op.f(f"fk_{table}_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["strategy.engagements.id"],
            name=op.f(f"fk_{table}_engagement_id_engagements"),
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "outreach_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column("handle_key", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_step", sa.String(length=200), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('person', 'page', 'community')", name=op.f("ck_outreach_contacts_kind")
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_outreach_contacts_status")),
        *_owned_by("outreach_contacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contacts")),
        sa.UniqueConstraint(
            "engagement_id", "platform", "handle_key", name="uq_outreach_contacts_handle"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "outreach_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_outreach_steps_status")),
        sa.CheckConstraint(
            f"previous_status IN ({STATUSES})", name=op.f("ck_outreach_steps_previous_status")
        ),
        *_owned_by("outreach_steps"),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["strategy.outreach_contacts.id"],
            name=op.f("fk_outreach_steps_contact_id_outreach_contacts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_steps")),
        schema=SCHEMA,
    )
    op.create_table(
        "training_participants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _created_at(),
        *_owned_by("training_participants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_participants")),
        schema=SCHEMA,
    )
    op.create_table(
        "training_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("materials", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("participant_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('planned', 'held', 'cancelled')", name=op.f("ck_training_sessions_status")
        ),
        sa.CheckConstraint(
            "mode IN ('formazione', 'affiancamento')", name=op.f("ck_training_sessions_mode")
        ),
        *_owned_by("training_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_sessions")),
        schema=SCHEMA,
    )
    op.create_table(
        "training_attendance",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["strategy.training_sessions.id"],
            name=op.f("fk_training_attendance_session_id_training_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["strategy.training_participants.id"],
            name=op.f("fk_training_attendance_participant_id_training_participants"),
        ),
        sa.PrimaryKeyConstraint(
            "session_id", "participant_id", name=op.f("pk_training_attendance")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "training_competences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _created_at(),
        *_owned_by("training_competences"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_competences")),
        schema=SCHEMA,
    )
    op.create_table(
        "training_competence_checks",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("competence_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("checked_by", sa.String(length=200), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["strategy.training_participants.id"],
            name=op.f("fk_training_competence_checks_participant_id_training_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["competence_id"],
            ["strategy.training_competences.id"],
            name=op.f("fk_training_competence_checks_competence_id_training_competences"),
        ),
        sa.PrimaryKeyConstraint(
            "participant_id", "competence_id", name=op.f("pk_training_competence_checks")
        ),
        schema=SCHEMA,
    )
    for table, column in INDEXES:
        op.create_index(
            op.f(f"ix_strategy_{table}_{column}"), table, [column], unique=False, schema=SCHEMA
        )


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f"ix_strategy_{table}_{column}"), table_name=table, schema=SCHEMA)
    for table in (
        "training_competence_checks",
        "training_competences",
        "training_attendance",
        "training_sessions",
        "training_participants",
        "outreach_steps",
        "outreach_contacts",
    ):
        op.drop_table(table, schema=SCHEMA)
