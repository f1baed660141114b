"""HTTP routes of notification channels: add one, read them, delete one, read its delivery log
(admin, manager). A webhook's secret is never answered."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.listening.notifications import service
from services.listening.notifications.schemas import (
    ChannelCreate,
    ChannelFilters,
    ChannelOut,
    DeliveryFilters,
    DeliveryOut,
)
from services.listening.notifications.service import SecretVault
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import page_of

# Channels say where an organisation's alerts go: the roles that manage its engagements.
notifications_router = APIRouter(
    prefix="/listening/notifications",
    tags=["listening"],
    dependencies=[AUTHORIZED],
)


@notifications_router.post(
    "/channels",
    status_code=status.HTTP_201_CREATED,
    response_model=ChannelOut,
    summary="Add a notification channel: a signed webhook or e-mail recipients, for the alert "
    "and SLA events it names (admin, manager); a webhook's secret is stored sealed",
)
async def create_notification_channel(
    body: ChannelCreate, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> ChannelOut:
    channel = await service.create_channel(
        session, principal, body, SecretVault(settings.listening)
    )
    return service.channel_view(channel)


@notifications_router.get(
    "/channels",
    response_model=list[ChannelOut],
    summary="Notification channels the caller's organisations have, oldest first (admin, "
    "manager); a Link header names the next page",
)
async def list_notification_channels(
    filters: Annotated[ChannelFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[ChannelOut]:
    found = await service.list_channels(session, filters)
    held = page_of(found, service.CHANNEL_ORDER, filters, request, response)
    return [service.channel_view(channel) for channel in held]


@notifications_router.get(
    "/channels/{channel_id}",
    response_model=ChannelOut,
    summary="One notification channel (admin, manager)",
)
async def get_notification_channel(channel_id: uuid.UUID, session: SessionDep) -> ChannelOut:
    return service.channel_view(await service.require_channel(session, channel_id))


@notifications_router.delete(
    "/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a notification channel (admin, manager): nothing more is sent to it, "
    "deliveries still waiting fail",
)
async def delete_notification_channel(channel_id: uuid.UUID, session: SessionDep) -> Response:
    await service.delete_channel(session, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@notifications_router.get(
    "/channels/{channel_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="The channel's delivery log, newest first: each event sent, its status "
    "(pending, retrying, delivered, failed) and every attempt (admin, manager)",
)
async def list_notification_deliveries(
    channel_id: uuid.UUID,
    filters: Annotated[DeliveryFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[DeliveryOut]:
    channel = await service.require_channel(session, channel_id)
    found = await service.list_deliveries(session, channel, filters)
    held = page_of(found, service.DELIVERY_ORDER, filters, request, response)
    return await service.delivery_views(session, held)
