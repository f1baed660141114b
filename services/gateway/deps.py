"""Dependencies of the gateway's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.clients import Services
from services.gateway.engagements import EngagementControl


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _engagements(request: Request) -> EngagementControl:
    control: EngagementControl = request.app.state.engagements
    return control


ServicesDep = Annotated[Services, Depends(_services)]
EngagementsDep = Annotated[EngagementControl, Depends(_engagements)]
