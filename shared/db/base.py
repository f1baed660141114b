"""Declarative bases: each service owns one PostgreSQL schema and one metadata."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Metadata whose tables all live in ``schema``; a service declares its base with it."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class OrgScoped:
    """Marks a table that holds client data.

    Every ORM query on such a table is filtered to the organisations the session's principal may
    see (see ``shared.db.scoping``). The organisation table itself maps ``organization_id`` to
    its own primary key.
    """

    # Tables override this with their own column (a foreign key, or a synonym of the key).
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
