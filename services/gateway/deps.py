"""Dependencies of the gateway's own routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from services.gateway.clients import Services
from services.gateway.engagements import EngagementControl
from services.strategy.schemas import EngagementOut


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _engagements(request: Request) -> EngagementControl:
    control: EngagementControl = request.app.state.engagements
    return control


ServicesDep = Annotated[Services, Depends(_services)]
EngagementsDep = Annotated[EngagementControl, Depends(_engagements)]


async def _engagement(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep
) -> EngagementOut:
    """The path's engagement; 404 unless the caller may see it (the strategy service decides)."""
    return await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )


EngagementDep = Annotated[EngagementOut, Depends(_engagement)]
