"""The sandbox platform's public API, shaped like a typical social network's."""

from __future__ import annotations

import asyncio
import contextlib
import html
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime

from services.sandbox.deps import CallerDep, SandboxDep, require_owner
from services.sandbox.limits import content_violations, reply_violations
from services.sandbox.schemas import (
    AcceptThenTimeout,
    AccountCreate,
    AccountOut,
    ConversationPage,
    PostCreate,
    PostMetricsOut,
    PostOut,
    PostPage,
    ReplyCreate,
    ReplyOut,
    ReplyPage,
    SandboxDescription,
)
from services.sandbox.simulation import account_mentions, conversation, post_comments, post_metrics
from services.sandbox.state import (
    AccountRecord,
    PlatformState,
    PostRecord,
    ReplyRecord,
    fingerprint,
)
from shared.errors import ConflictError, ProblemError

router = APIRouter(tags=["sandbox platform"])

Since = Annotated[AwareDatetime | None, Query(description="Only items created after this")]
PageSize = Annotated[int, Query(ge=1, le=100)]


def account_out(state: PlatformState, account: AccountRecord) -> AccountOut:
    return AccountOut(**account.model_dump(), followers=state.followers(account))


def post_out(post: PostRecord, request: Request) -> PostOut:
    return PostOut(
        **post.model_dump(include=set(PostOut.model_fields) - {"url"}),
        url=str(request.url_for("permalink", post_id=post.id)),
    )


def reply_out(reply: ReplyRecord, request: Request) -> ReplyOut:
    return ReplyOut(
        **reply.model_dump(include=set(ReplyOut.model_fields) - {"url"}),
        url=str(request.url_for("reply_permalink", reply_id=reply.id)),
    )


def _own_account(state: PlatformState, account_id: str, caller: str) -> AccountRecord:
    account = state.account(account_id)
    require_owner(account.id, caller)
    return account


@router.get("/", response_model=SandboxDescription)
async def describe() -> SandboxDescription:
    return SandboxDescription()


@router.post("/v1/accounts", status_code=201, response_model=AccountOut)
async def create_account(body: AccountCreate, sandbox: SandboxDep) -> AccountOut:
    """Sign up a simulated account (no token needed: this is the platform's own sign-up)."""
    return account_out(sandbox.state, sandbox.state.create_account(body.name, body.handle))


@router.get("/v1/accounts", response_model=list[AccountOut])
async def list_accounts(sandbox: SandboxDep) -> list[AccountOut]:
    state = sandbox.state
    return [account_out(state, account) for account in state.data.accounts.values()]


@router.get("/v1/accounts/{account_id}", response_model=AccountOut)
async def read_account(account_id: str, caller: CallerDep, sandbox: SandboxDep) -> AccountOut:
    return account_out(sandbox.state, sandbox.state.account(account_id))


@router.post("/v1/accounts/{account_id}/posts", status_code=201, response_model=PostOut)
async def create_post(
    account_id: str,
    body: PostCreate,
    caller: CallerDep,
    sandbox: SandboxDep,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> PostOut | Response:
    """Publish. A repeated ``Idempotency-Key`` answers 200 with the post it created before."""
    state = sandbox.state
    account = _own_account(state, account_id, caller)
    earlier = state.post_for_key(account.id, idempotency_key) if idempotency_key else None
    if earlier is not None:
        _check_replay(state, earlier, body)
        state.stats.duplicates_prevented += 1
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        return post_out(earlier, request)
    violations = content_violations(body, state.settings.max_text_length, state.settings.max_media)
    if violations:
        state.stats.rejected_invalid += 1
        raise ProblemError(
            422,
            "content-rejected",
            "The post breaks the platform's limits.",
            violations=[violation.model_dump() for violation in violations],
        )
    created = post_out(state.add_post(account, body, idempotency_key), request)
    state.stats.accepted_posts += 1
    armed = sandbox.traffic.take_accept_then_timeout()
    if armed is None:
        return created
    state.stats.accept_then_timeout_applied += 1
    return await _answer_too_late(request, created, armed)


@router.post(
    "/v1/conversations/{conversation_id}/replies", status_code=201, response_model=ReplyOut
)
async def create_reply(
    conversation_id: str,
    body: ReplyCreate,
    caller: CallerDep,
    sandbox: SandboxDep,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> ReplyOut | Response:
    """Answer a comment or a mention as the token's account. A repeated ``Idempotency-Key``
    answers 200 with the reply it created before."""
    state = sandbox.state
    account = state.account(caller)
    earlier = state.reply_for_key(account.id, idempotency_key) if idempotency_key else None
    if earlier is not None:
        if earlier.fingerprint != fingerprint(body) or earlier.in_reply_to != conversation_id:
            state.stats.rejected_invalid += 1
            raise ProblemError(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was already used for a different reply.",
                reply_id=earlier.id,
            )
        state.stats.duplicates_prevented += 1
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        return reply_out(earlier, request)
    answered = conversation(state, conversation_id)
    violations = reply_violations(body, state.settings.max_text_length)
    if violations:
        state.stats.rejected_invalid += 1
        raise ProblemError(
            422,
            "content-rejected",
            "The reply breaks the platform's limits.",
            violations=[violation.model_dump() for violation in violations],
        )
    reply = state.add_reply(account, answered.id, answered.post_id, body, idempotency_key)
    created = reply_out(reply, request)
    state.stats.accepted_replies += 1
    armed = sandbox.traffic.take_accept_then_timeout()
    if armed is None:
        return created
    state.stats.accept_then_timeout_applied += 1
    return await _answer_too_late(request, created, armed)


@router.get("/v1/conversations/{conversation_id}/replies", response_model=ReplyPage)
async def list_replies(
    conversation_id: str,
    caller: CallerDep,
    sandbox: SandboxDep,
    request: Request,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
    limit: PageSize = 50,
) -> ReplyPage:
    """The replies to a comment or a mention, oldest first (so a client whose answer was lost
    finds what it created by its ``idempotency_key``)."""
    page, next_seq = sandbox.state.replies_to(
        conversation_id, int(cursor) if cursor else None, limit
    )
    return ReplyPage(
        data=[reply_out(reply, request) for reply in page],
        next_cursor=None if next_seq is None else str(next_seq),
    )


@router.get("/v1/replies/{reply_id}", response_model=ReplyOut)
async def read_reply(
    reply_id: str, caller: CallerDep, sandbox: SandboxDep, request: Request
) -> ReplyOut:
    return reply_out(sandbox.state.reply(reply_id), request)


def _check_replay(state: PlatformState, earlier: PostRecord, body: PostCreate) -> None:
    if earlier.fingerprint != fingerprint(body):
        state.stats.rejected_invalid += 1
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used for a different post.",
            post_id=earlier.id,
        )
    if earlier.deleted_at is not None:
        raise ConflictError(
            "The post created with this Idempotency-Key was deleted.", post_id=earlier.id
        )


async def _answer_too_late(
    request: Request, created: PostOut | ReplyOut, armed: AcceptThenTimeout
) -> Response:
    """The post (or reply) exists; its creator hears nothing in time or gets half an answer."""
    if armed.mode == "malformed":
        body = created.model_dump_json()
        return Response(body[: len(body) // 2], status_code=201, media_type="application/json")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_client_gone(request), armed.delay_seconds)
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


async def _client_gone(request: Request) -> None:
    """The body has been read, so the next ASGI message is the client's disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        continue


@router.get("/v1/accounts/{account_id}/posts", response_model=PostPage)
async def list_posts(
    account_id: str,
    caller: CallerDep,
    sandbox: SandboxDep,
    request: Request,
    since: Since = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
    limit: PageSize = 50,
) -> PostPage:
    state = sandbox.state
    account = _own_account(state, account_id, caller)
    page, next_seq = state.posts_of(account.id, since, int(cursor) if cursor else None, limit)
    return PostPage(
        data=[post_out(post, request) for post in page],
        next_cursor=None if next_seq is None else str(next_seq),
    )


@router.get("/v1/posts/{post_id}", response_model=PostOut)
async def read_post(
    post_id: str, caller: CallerDep, sandbox: SandboxDep, request: Request
) -> PostOut:
    return post_out(sandbox.state.post(post_id), request)


@router.delete("/v1/posts/{post_id}", status_code=204)
async def delete_post(post_id: str, caller: CallerDep, sandbox: SandboxDep) -> None:
    post = sandbox.state.post(post_id)
    require_owner(post.account_id, caller)
    sandbox.state.delete_post(post)


@router.get("/v1/posts/{post_id}/metrics", response_model=PostMetricsOut)
async def read_metrics(post_id: str, caller: CallerDep, sandbox: SandboxDep) -> PostMetricsOut:
    post = sandbox.state.post(post_id)
    require_owner(post.account_id, caller)
    return post_metrics(sandbox.state, post)


@router.get("/v1/posts/{post_id}/comments", response_model=ConversationPage)
async def list_comments(
    post_id: str, caller: CallerDep, sandbox: SandboxDep, since: Since = None, limit: PageSize = 50
) -> ConversationPage:
    post = sandbox.state.post(post_id)
    return ConversationPage(data=post_comments(sandbox.state, post, since, limit))


@router.get("/v1/accounts/{account_id}/mentions", response_model=ConversationPage)
async def list_mentions(
    account_id: str,
    caller: CallerDep,
    sandbox: SandboxDep,
    since: Since = None,
    limit: PageSize = 50,
) -> ConversationPage:
    account = _own_account(sandbox.state, account_id, caller)
    return ConversationPage(data=account_mentions(sandbox.state, account, since, limit))


@router.get("/posts/{post_id}", response_class=HTMLResponse, name="permalink")
async def permalink(post_id: str, sandbox: SandboxDep) -> HTMLResponse:
    """A post's public page, so a published post has a link to open."""
    post = sandbox.state.post(post_id)
    account = sandbox.state.account(post.account_id)
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Sandbox post</title>"
        "<p><strong>SANDBOX</strong>: a local simulation, not a real social network.</p>"
        f"<h1>@{html.escape(account.handle)}</h1>"
        f"<p>{html.escape(post.title or '')}</p><p>{html.escape(post.text)}</p>"
        f"<p>{html.escape(post.link or '')}</p><p><time>{post.created_at.isoformat()}</time></p>"
    )


@router.get("/replies/{reply_id}", response_class=HTMLResponse, name="reply_permalink")
async def reply_permalink(reply_id: str, sandbox: SandboxDep) -> HTMLResponse:
    """A reply's public page."""
    reply = sandbox.state.reply(reply_id)
    account = sandbox.state.account(reply.account_id)
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Sandbox reply</title>"
        "<p><strong>SANDBOX</strong>: a local simulation, not a real social network.</p>"
        f"<h1>@{html.escape(account.handle)}</h1>"
        f"<p>In reply to {html.escape(reply.in_reply_to)}</p><p>{html.escape(reply.text)}</p>"
        f"<p><time>{reply.created_at.isoformat()}</time></p>"
    )
