"""Saved replies: an organisation's texts its people answer with."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.conversations import repository
from services.listening.conversations.schemas import SavedReplyBody, SavedReplyCreate
from services.listening.models import SavedReply
from shared.auth import Principal
from shared.errors import NotFoundError


def create_saved_reply(
    session: AsyncSession, principal: Principal, body: SavedReplyCreate
) -> SavedReply:
    principal.require_organization(body.organization_id)
    saved = SavedReply(
        id=uuid.uuid4(),
        organization_id=body.organization_id,
        title=body.title,
        text=body.text,
        created_by=principal.subject,
    )
    session.add(saved)
    return saved


async def require_saved_reply(session: AsyncSession, saved_reply_id: uuid.UUID) -> SavedReply:
    saved = await repository.saved_reply(session, saved_reply_id)
    if saved is None:
        raise NotFoundError("saved reply", saved_reply_id)
    return saved


def update_saved_reply(saved: SavedReply, body: SavedReplyBody) -> None:
    saved.title = body.title
    saved.text = body.text
