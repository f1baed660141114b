"""HTTP routes of alerts: an engagement's rules (admin, manager), its alerts (any member of its
organisation), and acknowledging and resolving them (the agency's editors, managers, admins)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.listening.alerts import service
from services.listening.alerts.contracts import (
    ACKNOWLEDGE_SIGNAL,
    RESOLVE_SIGNAL,
    AlertAcknowledged,
    AlertResolved,
)
from services.listening.alerts.escalations import AlertEscalations
from services.listening.alerts.schemas import (
    AcknowledgeIn,
    AlertFilters,
    AlertOut,
    AlertPage,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
    ResolveIn,
)
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

alerts_router = APIRouter(prefix="/listening", tags=["listening"])

# The roles that manage an engagement set its rules.
# The agency's people who watch mentions (there is no analyst role: editors are the analysts)
# answer alerts; a client's people see them.


@alerts_router.post(
    "/engagements/{engagement_id}/alert-rules",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertRuleOut,
    dependencies=[AUTHORIZED],
    summary="Add an alert rule to an engagement (admin, manager): a volume spike, a negative "
    "share spike or keywords, over its mentions or one query's",
)
async def create_alert_rule(
    engagement_id: uuid.UUID,
    body: AlertRuleCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AlertRuleOut:
    return service.rule_view(await service.create_rule(session, principal, engagement_id, body))


@alerts_router.get(
    "/engagements/{engagement_id}/alert-rules",
    response_model=list[AlertRuleOut],
    summary="An engagement's alert rules, oldest first; a Link header names the next page",
)
async def list_alert_rules(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[AlertRuleOut]:
    found = await service.list_rules(session, engagement_id, page)
    return [
        service.rule_view(rule)
        for rule in page_of(found, service.RULE_ORDER, page, request, response)
    ]


@alerts_router.patch(
    "/alert-rules/{rule_id}",
    response_model=AlertRuleOut,
    dependencies=[AUTHORIZED],
    summary="Change an alert rule's name, keywords or figures, or switch it off (admin, manager)",
)
async def update_alert_rule(
    rule_id: uuid.UUID, body: AlertRuleUpdate, session: SessionDep
) -> AlertRuleOut:
    return service.rule_view(await service.update_rule(session, rule_id, body, datetime.now(UTC)))


@alerts_router.delete(
    "/alert-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[AUTHORIZED],
    summary="Delete an alert rule (admin, manager); its alerts stay",
)
async def delete_alert_rule(rule_id: uuid.UUID, session: SessionDep) -> Response:
    await service.delete_rule(session, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@alerts_router.get(
    "/engagements/{engagement_id}/alerts",
    response_model=AlertPage,
    summary="An engagement's alerts, newest first, with their evidence; by status or kind",
)
async def list_alerts(
    engagement_id: uuid.UUID,
    filters: Annotated[AlertFilters, Query()],
    session: SessionDep,
) -> AlertPage:
    return await service.list_alerts(session, engagement_id, filters)


@alerts_router.get(
    "/alerts/{alert_id}", response_model=AlertOut, summary="One alert, with its evidence"
)
async def get_alert(alert_id: uuid.UUID, session: SessionDep) -> AlertOut:
    return service.alert_view(await service.require_alert(session, alert_id))


@alerts_router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    dependencies=[AUTHORIZED],
    summary="Acknowledge an open alert (admin, manager, editor): its escalation stops; 409 "
    "once acknowledged or resolved",
)
async def acknowledge_alert(
    alert_id: uuid.UUID,
    body: AcknowledgeIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AlertOut:
    alert = await service.acknowledge(session, principal, alert_id, body.note, datetime.now(UTC))
    view = service.alert_view(alert)
    # Stored before the workflow hears of it.
    await session.commit()
    escalations: AlertEscalations = request.app.state.alert_escalations
    await escalations.signal(
        alert_id, ACKNOWLEDGE_SIGNAL, AlertAcknowledged(by=principal.subject, note=body.note)
    )
    return view


@alerts_router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    dependencies=[AUTHORIZED],
    summary="Resolve an alert with a note saying how (admin, manager, editor); an open one is "
    "acknowledged by the same stroke; 409 once resolved",
)
async def resolve_alert(
    alert_id: uuid.UUID,
    body: ResolveIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AlertOut:
    alert = await service.resolve(session, principal, alert_id, body.note, datetime.now(UTC))
    view = service.alert_view(alert)
    await session.commit()
    escalations: AlertEscalations = request.app.state.alert_escalations
    await escalations.signal(
        alert_id, RESOLVE_SIGNAL, AlertResolved(by=principal.subject, note=body.note)
    )
    return view
