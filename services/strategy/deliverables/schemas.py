"""Request and response bodies of deliverables (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from services.strategy.bodies import Body
from services.strategy.deliverables.kinds import DeliverableKind, DeliverableStatus


class DeliverableBody(RootModel[dict[str, Any]]):
    """A new version's body: the schema of its kind (``GET /deliverable-kinds`` lists them);
    the service checks it against that schema."""


class Approval(Body):
    comment: str = Field("", max_length=2000)


class DeliverableOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    kind: DeliverableKind
    version: int
    status: DeliverableStatus
    body: dict[str, Any]
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_as: Literal["agency", "client"] | None
    approved_at: datetime | None
    approval_comment: str | None


class DeliverableSummary(BaseModel):
    kind: DeliverableKind
    latest_version: int
    latest_status: DeliverableStatus
    approved_version: int | None = Field(description="The newest approved version, if any")


class DeliverableKindOut(BaseModel):
    kind: DeliverableKind
    written_by: str = Field(description="The route that makes a new version of this kind")
    approver_roles: list[str]
    body_schema: dict[str, Any] = Field(description="JSON Schema of the kind's body")


class BriefFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
