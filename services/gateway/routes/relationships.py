"""What the gateway composes for seeding and knowledge transfer: outreach candidates (listening's
top authors of the engagement, less those on its outreach list already) and the lifecycle's
knowledge-transfer checkpoints beside the training progress. The records and their rules are the
strategy service's (``/v1/engagements/{id}/outreach/...`` and ``.../training/...``, forwarded);
these routes only read, each service checking the caller's roles and organisation itself."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from services.gateway.deps import EngagementDep, EngagementsDep, ServicesDep
from services.gateway.forwarding import API_PREFIX
from services.listening.contracts import SourceKind
from services.listening.schemas import DEFAULT_RANKED, MAX_RANKED, AuthorRank
from services.strategy.outreach.schemas import MAX_HANDLES, ContactOut
from services.strategy.training.schemas import TrainingProgress
from shared.auth import current_principal
from shared.domain import InterventionMode
from workflows.engagement.messages import Task, TaskKind

# Served beside the other composed routes, under /v1 with a bearer token.
router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])

# The lifecycle's tasks that mark knowledge transfer: a checkpoint per phase in
# ``affiancamento``, a training session per phase in ``formazione``.
CHECKPOINT_KINDS = frozenset({TaskKind.KNOWLEDGE_TRANSFER, TaskKind.TRAINING})


class CandidateFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    limit: int = Field(DEFAULT_RANKED, ge=1, le=MAX_RANKED, description="How many, at most")
    source: SourceKind | None = Field(None, description="Only authors of this listening source")
    since: AwareDatetime | None = Field(
        None, alias="from", description="Mentions published at or after (with a time zone)"
    )
    until: AwareDatetime | None = Field(
        None, alias="to", description="Mentions published before (with a time zone)"
    )


class OutreachCandidate(BaseModel):
    platform: str = Field(description="The listening source: the contact's `platform`")
    handle: str
    display_name: str | None
    mentions: int = Field(description="Their mentions of the engagement in the period")
    positive: int
    neutral: int
    negative: int


class OutreachCandidates(BaseModel):
    engagement_id: uuid.UUID
    candidates: list[OutreachCandidate] = Field(description="Most mentions first")
    on_the_list: int = Field(
        description="Top authors left out because they are on the outreach list already"
    )


class _AuthorRanks(RootModel[list[AuthorRank]]):
    pass


class _Contacts(RootModel[list[ContactOut]]):
    pass


class KnowledgeTransfer(BaseModel):
    engagement_id: uuid.UUID
    mode: InterventionMode
    checkpoints: list[Task] = Field(
        description="The lifecycle's knowledge-transfer checkpoints (affiancamento) and training "
        "sessions (formazione), in the order they were opened; none in realizzazione"
    )
    training: TrainingProgress


def _listable(handle: str) -> bool:
    # A handle the outreach list cannot hold (a space, a comma) cannot be on it or be added.
    return bool(handle) and len(handle) <= 200 and not any(c.isspace() or c == "," for c in handle)


@router.get(
    "/engagements/{engagement_id}/outreach/candidates",
    response_model=OutreachCandidates,
    tags=["outreach"],
    summary="People to reach out to: the engagement's top authors in listening, less those on "
    "its outreach list already (agency)",
)
async def list_outreach_candidates(
    engagement: EngagementDep,
    filters: Annotated[CandidateFilters, Query()],
    request: Request,
    services: ServicesDep,
) -> OutreachCandidates:
    params = {"limit": str(MAX_RANKED)}
    if filters.source is not None:
        params["source"] = filters.source.value
    if filters.since is not None:
        params["from"] = filters.since.isoformat()
    if filters.until is not None:
        params["to"] = filters.until.isoformat()
    ranked = await services.client("listening").call(
        request,
        "GET",
        f"/listening/engagements/{engagement.id}/top-authors",
        _AuthorRanks,
        params=params,
    )
    authors = [author for author in ranked.root if _listable(author.handle)]
    listed: set[tuple[str, str]] = set()
    if authors:
        handles = sorted({author.handle.lower() for author in authors})[:MAX_HANDLES]
        contacts = await services.strategy.call(
            request,
            "GET",
            f"/engagements/{engagement.id}/outreach/contacts",
            _Contacts,
            params={"handles": ",".join(handles), "limit": str(MAX_HANDLES)},
        )
        listed = {(contact.platform, contact.handle.lower()) for contact in contacts.root}
    fresh = [
        author for author in authors if (author.source.value, author.handle.lower()) not in listed
    ]
    return OutreachCandidates(
        engagement_id=engagement.id,
        candidates=[
            OutreachCandidate(
                platform=author.source.value,
                handle=author.handle,
                display_name=author.display_name,
                mentions=author.count,
                positive=author.positive,
                neutral=author.neutral,
                negative=author.negative,
            )
            for author in fresh[: filters.limit]
        ],
        on_the_list=len(authors) - len(fresh),
    )


@router.get(
    "/engagements/{engagement_id}/knowledge-transfer",
    response_model=KnowledgeTransfer,
    tags=["training"],
    summary="The lifecycle's knowledge-transfer checkpoints with the training progress they "
    "look at: sessions, attendance, competence checklists (any role, own organisations)",
)
async def get_knowledge_transfer(
    engagement: EngagementDep,
    request: Request,
    services: ServicesDep,
    engagements: EngagementsDep,
) -> KnowledgeTransfer:
    training = await services.strategy.call(
        request, "GET", f"/engagements/{engagement.id}/training/progress", TrainingProgress
    )
    state = await engagements.state(engagement)
    tasks = state.tasks if state is not None else []
    return KnowledgeTransfer(
        engagement_id=engagement.id,
        mode=engagement.mode,
        checkpoints=[task for task in tasks if task.kind in CHECKPOINT_KINDS],
        training=training,
    )
