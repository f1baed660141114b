"""Rules on assets: one account per channel and handle, and an event for every change."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events
from services.strategy.assets import repository
from services.strategy.assets.schemas import AccountAsset, AssetDetails, AssetKind
from services.strategy.models import Asset, outbox
from services.strategy.service import require_organization
from shared.auth import Principal
from shared.errors import ConflictError, NotFoundError
from shared.events.envelope import new_event


async def require_asset(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, asset_id: uuid.UUID
) -> Asset:
    await require_organization(session, principal, organization_id)
    asset = await repository.get_asset(session, organization_id, asset_id)
    if asset is None:
        raise NotFoundError("asset", asset_id)
    return asset


async def _refuse_duplicate_account(
    session: AsyncSession,
    organization_id: uuid.UUID,
    details: AssetDetails,
    replacing: uuid.UUID | None = None,
) -> None:
    if not isinstance(details, AccountAsset):
        return
    await repository.lock_organization(session, organization_id)
    for asset in await repository.list_assets(session, organization_id, AssetKind.ACCOUNT):
        other = AccountAsset.model_validate(asset.details)
        same = (other.channel, other.normalized_handle) == (
            details.channel,
            details.normalized_handle,
        )
        if same and asset.id != replacing:
            raise ConflictError(
                f"the {details.channel} account {details.handle} is already recorded",
                asset_id=str(asset.id),
            )


async def _emit(session: AsyncSession, event_name: str, data: events.AssetFact) -> None:
    await outbox.add(
        session, new_event(event_name, data, source=events.SOURCE, subject=str(data.asset_id))
    )


async def _emit_recorded(
    session: AsyncSession, asset: Asset, change: Literal["created", "updated"]
) -> None:
    await _emit(
        session,
        events.ASSET_RECORDED,
        events.AssetRecorded(
            asset_id=asset.id,
            organization_id=asset.organization_id,
            kind=AssetKind(asset.kind),
            change=change,
        ),
    )


async def record_asset(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, details: AssetDetails
) -> Asset:
    await require_organization(session, principal, organization_id)
    await _refuse_duplicate_account(session, organization_id, details)
    asset = Asset(
        id=uuid.uuid4(),
        organization_id=organization_id,
        kind=details.kind,
        details=details.model_dump(mode="json"),
        created_by=principal.subject,
    )
    session.add(asset)
    await session.flush()
    await _emit_recorded(session, asset, "created")
    return asset


async def replace_asset(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    asset_id: uuid.UUID,
    details: AssetDetails,
) -> Asset:
    asset = await require_asset(session, principal, organization_id, asset_id)
    await _refuse_duplicate_account(session, organization_id, details, replacing=asset.id)
    asset.kind = details.kind
    asset.details = details.model_dump(mode="json")
    await session.flush()
    # updated_at is set by the database on flush; read it back for the response.
    await session.refresh(asset, ["updated_at"])
    await _emit_recorded(session, asset, "updated")
    return asset


async def remove_asset(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, asset_id: uuid.UUID
) -> None:
    asset = await require_asset(session, principal, organization_id, asset_id)
    await session.delete(asset)
    await _emit(
        session,
        events.ASSET_REMOVED,
        events.AssetRemoved(
            asset_id=asset.id, organization_id=organization_id, kind=AssetKind(asset.kind)
        ),
    )
