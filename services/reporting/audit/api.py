"""HTTP route of the audit log: an organisation's, for its managers and for admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from services.reporting.audit import repository
from services.reporting.audit.schemas import AuditEntryOut, AuditPage
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import CURSOR_MAX_LENGTH, MAX_PAGE, PageQuery, encode_cursor

audit_router = APIRouter(tags=["audit"])


@audit_router.get(
    "/organizations/{organization_id}/audit-log",
    response_model=AuditPage,
    dependencies=[AUTHORIZED],
    summary="Who approved, published, replied, connected a channel or rotated token keys in an "
    "organisation, when, and how it ended: newest first, a page at a time (admin, manager)",
)
async def list_audit_entries(
    organization_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    engagement_id: uuid.UUID | None = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_LENGTH)] = None,
) -> AuditPage:
    principal.require_organization(organization_id)
    wanted = repository.AuditFilter(organization_id, engagement_id, actor, action, since, until)
    found = await repository.page(session, wanted, PageQuery(limit=limit, cursor=cursor))
    held = found[:limit]
    return AuditPage(
        entries=[AuditEntryOut.model_validate(entry) for entry in held],
        next_cursor=encode_cursor(repository.AUDIT_ORDER.key_of(held[-1]))
        if len(found) > limit
        else None,
    )
