"""Routes of the sources that are pushed, not polled: webhooks and imported files.

``webhook_router`` is called by Meta and by third parties, who send no bearer token: a
delivery's signature, checked against the source's sealed secret, is its authentication. It is
served by the listening service on its own port and never forwarded by the gateway (which
requires a bearer token on every ``/v1`` route). ``push_router`` is for the frontends: uploading
a file needs an admin or manager of the source's organisation, through the gateway.

Whatever a source publishes goes through ``publish_raw_mentions``; nothing is published from a
delivery or a file with an invalid signature or an invalid mention."""

from __future__ import annotations

import asyncio
import hmac
import tempfile
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, SecretStr, ValidationError

from services.listening.contracts import RawMention, SourceKind
from services.listening.intake import publish_raw_mentions
from services.listening.models import Source
from services.listening.sources import imports, webhooks
from services.listening.sources.service import SourceVault, require_source
from services.listening.sources.webhooks import (
    META_KINDS,
    InboundDelivery,
    MentionOwner,
    MetaDelivery,
)
from shared.app import Runtime, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.db.scoping import SYSTEM, Scope
from shared.db.session import session_scope
from shared.errors import FieldError, NotFoundError, ProblemError, field_path, validation_problem
from shared.settings import Settings

MAX_WEBHOOK_BYTES = 1024 * 1024
# An uploaded file stays in memory up to this size, then on disk.
SPOOLED_IN_MEMORY_BYTES = 1024 * 1024

push_router = APIRouter(prefix="/listening/sources", tags=["listening"])
webhook_router = APIRouter(prefix="/listening/sources", tags=["listening webhooks"])


class WebhookReceived(BaseModel):
    """``mentions``: how many of the delivery were handed to ingestion."""

    mentions: int


class ImportAccepted(BaseModel):
    """Every row was valid and handed to ingestion (mentions the organisation already has from
    this source are kept once)."""

    rows: int
    mentions: int


@dataclass(frozen=True)
class _PushedSource:
    kind: SourceKind
    settings: dict[str, Any]
    secret: SecretStr | None
    owner: MentionOwner


async def _pushed_source(
    runtime: Runtime,
    settings: Settings,
    source_id: uuid.UUID,
    kinds: Collection[SourceKind],
    scope: Scope = SYSTEM,
) -> _PushedSource:
    """The source, when it is of one of ``kinds`` and not stopped. Webhooks have no principal:
    the source id in the path scopes them, so they read it as the system."""
    async with session_scope(runtime.sessions, scope) as session:
        source = await require_source(session, source_id)
    kind = SourceKind(source.kind)
    if kind not in kinds:
        raise NotFoundError("listening source", source_id)
    if source.status == "stopped":
        raise ProblemError(410, "source-stopped", f"listening source {source_id} was stopped")
    return _PushedSource(
        kind=kind,
        settings=source.settings,
        secret=SourceVault(settings.listening).open(source.credentials),
        owner=MentionOwner(
            organization_id=source.organization_id, engagement_id=source.engagement_id
        ),
    )


async def _record_pushed(runtime: Runtime, source_id: uuid.UUID, mentions: int) -> None:
    """A pushed source's health: what it received, and when. It is never due for a poll."""
    async with session_scope(runtime.sessions, SYSTEM) as session:
        source = await session.get(Source, source_id, with_for_update=True)
        if source is not None:
            source.mentions_read += mentions
            source.last_success_at = datetime.now(UTC)


async def _publish(
    runtime: Runtime, settings: Settings, source_id: uuid.UUID, mentions: list[RawMention]
) -> None:
    if mentions:
        await publish_raw_mentions(runtime.js, settings, mentions)
        await _record_pushed(runtime, source_id, len(mentions))


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "payload-too-large", f"the body is larger than {limit} bytes", limit_bytes=limit
    )


def _declared_too_large(request: Request, limit: int) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


async def _body(request: Request, limit: int) -> bytes:
    if _declared_too_large(request, limit):
        raise _too_large(limit)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise _too_large(limit)
    return bytes(received)


async def _spool(request: Request, file: IO[bytes], limit: int) -> None:
    if _declared_too_large(request, limit):
        raise _too_large(limit)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        file.write(chunk)


def _unsigned() -> ProblemError:
    return ProblemError(
        401, "webhook-signature-invalid", "the delivery's signature is missing or does not match"
    )


def _invalid(error: ValidationError) -> ProblemError:
    if any(problem["type"] == "json_invalid" for problem in error.errors()):
        return ProblemError(400, "malformed-json", "Malformed JSON: the body is not valid JSON")
    return validation_problem(
        [
            FieldError(
                field=field_path(("body", *problem["loc"])),
                message=problem["msg"],
                type=problem["type"],
            )
            for problem in error.errors()
        ]
    )


@webhook_router.get(
    "/{source_id}/webhook",
    response_class=PlainTextResponse,
    summary="Meta's verification handshake of a Facebook or Instagram source (no bearer "
    "token): answers hub.challenge when hub.verify_token is the source's",
    responses={200: {"content": {"text/plain": {}}}},
)
async def verify_listening_webhook(
    source_id: uuid.UUID,
    runtime: Runtime,
    settings: SettingsDep,
    mode: Annotated[str, Query(alias="hub.mode", max_length=50)] = "",
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=200)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> PlainTextResponse:
    source = await _pushed_source(runtime, settings, source_id, META_KINDS)
    expected = str(source.settings.get("verify_token", ""))
    if mode != "subscribe" or not hmac.compare_digest(verify_token.encode(), expected.encode()):
        raise ProblemError(
            403, "webhook-verification-failed", "hub.mode or hub.verify_token is not the source's"
        )
    return PlainTextResponse(challenge)


@webhook_router.post(
    "/{source_id}/webhook",
    response_model=WebhookReceived,
    summary="A signed delivery of mentions (no bearer token): Meta's X-Hub-Signature-256 for "
    "Facebook and Instagram sources, X-Signature-256 and X-Signature-Timestamp for generic "
    "webhooks; see docs/listening.md",
    responses={
        401: {"description": "The signature is missing, does not match, or is stale"},
        410: {"description": "The source was stopped"},
        413: {"description": "The body is larger than 1 MiB"},
    },
)
async def receive_listening_webhook(
    source_id: uuid.UUID, request: Request, runtime: Runtime, settings: SettingsDep
) -> WebhookReceived:
    source = await _pushed_source(runtime, settings, source_id, META_KINDS | {SourceKind.WEBHOOK})
    raw = await _body(request, MAX_WEBHOOK_BYTES)
    secret = source.secret.get_secret_value() if source.secret is not None else None
    now = datetime.now(UTC)
    if secret is None:
        raise _unsigned()
    if source.kind in META_KINDS:
        if not webhooks.meta_signature_valid(
            secret, raw, request.headers.get("x-hub-signature-256")
        ):
            raise _unsigned()
        try:
            meta = MetaDelivery.model_validate_json(raw)
        except ValidationError as error:
            raise _invalid(error) from None
        account = source.settings["page_id" if source.kind is SourceKind.FACEBOOK else "account_id"]
        mentions = webhooks.meta_mentions(source.kind, account, source.owner, meta, now)
    else:
        if not webhooks.inbound_signature_valid(
            secret,
            raw,
            request.headers.get("x-signature-timestamp"),
            request.headers.get("x-signature-256"),
            now,
        ):
            raise _unsigned()
        try:
            inbound = InboundDelivery.model_validate_json(raw)
        except ValidationError as error:
            raise _invalid(error) from None
        mentions = webhooks.inbound_mentions(source.owner, inbound)
    await _publish(runtime, settings, source_id, mentions)
    return WebhookReceived(mentions=len(mentions))


def _import_format(request: Request) -> imports.ImportFormat:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        return imports.FORMATS[media_type]
    except KeyError:
        raise ProblemError(
            415,
            "unsupported-media-type",
            "send the file as text/csv or application/x-ndjson",
            accepted=sorted(imports.FORMATS),
        ) from None


def _file_problem(check: imports.FileCheck) -> ProblemError:
    if check.too_many_rows:
        return ProblemError(
            413,
            "import-too-many-rows",
            f"the file has more than {imports.MAX_IMPORT_ROWS} rows",
            limit_rows=imports.MAX_IMPORT_ROWS,
        )
    return ProblemError(
        422,
        "import-invalid",
        "Some lines of the file are invalid: nothing was imported.",
        title="Validation failed",
        errors=[
            FieldError(
                field=field_path(("body", "line", error.line, error.field)),
                message=error.message,
                type=error.type,
            ).model_dump()
            for error in check.errors
        ],
        lines=sorted({error.line for error in check.errors}),
        truncated=check.truncated,
    )


@push_router.post(
    "/{source_id}/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportAccepted,
    dependencies=[AUTHORIZED],
    summary="Import a file of mentions into an import source (admin, manager): CSV with a "
    "header row or JSON Lines; all or nothing, see docs/listening.md",
    responses={
        410: {"description": "The source was stopped"},
        413: {"description": "The file is larger than 20 MiB or has more than 100,000 rows"},
        415: {"description": "Neither text/csv nor application/x-ndjson"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in imports.FORMATS
            },
        }
    },
)
async def import_listening_mentions(
    source_id: uuid.UUID,
    request: Request,
    runtime: Runtime,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> ImportAccepted:
    format = _import_format(request)
    source = await _pushed_source(
        runtime, settings, source_id, {SourceKind.IMPORT}, scope=principal.scope
    )
    with tempfile.SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY_BYTES) as file:
        await _spool(request, file, imports.MAX_IMPORT_BYTES)
        check = await asyncio.to_thread(imports.check_file, file, format)
        if check.too_many_rows or check.errors:
            raise _file_problem(check)
        chunks = imports.valid_mentions(file, format, source.owner)
        published = 0
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await publish_raw_mentions(runtime.js, settings, chunk)
            published += len(chunk)
    if published:
        await _record_pushed(runtime, source_id, published)
    return ImportAccepted(rows=check.rows, mentions=published)
