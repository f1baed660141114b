"""Payloads of the report routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from services.reporting.contracts import ReportStatus
from services.reporting.kpis.schemas import EngagementKpis

ReportLanguage = Literal["it", "en"]
# An address the delivery notice goes to: checked loosely here, by the SMTP server for real.
EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=320, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"
    ),
]
MAX_RECIPIENTS = 20


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    starts_at: AwareDatetime = Field(
        alias="from", description="The period's first instant (ISO 8601 with a time zone)"
    )
    ends_at: AwareDatetime = Field(
        alias="to", description="The instant after the period (excluded), after `from`"
    )
    language: ReportLanguage | None = Field(
        None, description="Italian or English; by default Italian for an organisation in Italy"
    )
    recipients: list[EmailAddress] = Field(
        default_factory=list,
        max_length=MAX_RECIPIENTS,
        description="Who is e-mailed the download link once the report is delivered",
    )


class ReportApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class ReportRejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DocumentLink(BaseModel):
    format: Literal["html", "pdf"]
    # The gateway's path of the download.
    href: str
    size_bytes: int
    sha256: str


class ReportOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    kind: Literal["periodic", "on_demand"]
    period_start: datetime
    period_end: datetime
    language: ReportLanguage
    status: ReportStatus
    failure: str | None = Field(None, description="Why rendering failed (it is retried)")
    requested_by: str
    approved_by: str | None
    approved_at: datetime | None
    delivered_at: datetime | None
    rendered_at: datetime | None
    created_at: datetime
    documents: list[DocumentLink] = Field(
        default_factory=list, description="Once rendered: the HTML and PDF to download"
    )


class ReportDetail(ReportOut):
    kpis: EngagementKpis | None = Field(
        None, description="The figures the documents show, as they were when rendered"
    )
