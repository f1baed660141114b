"""The ``/v1`` API that the internal web frontends call: every route needs a bearer token."""

from fastapi import APIRouter, Depends

from services.gateway.routes import (
    content,
    contests,
    engagements,
    lifecycle,
    listening,
    organizations,
    plan,
    plan_publishing,
    publisher,
    strategy,
    streams,
)
from shared.auth import current_principal

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])
router.include_router(organizations.router)
router.include_router(engagements.router)
router.include_router(lifecycle.router)
router.include_router(plan.router)
router.include_router(plan_publishing.router)
router.include_router(contests.router)
router.include_router(content.router)
router.include_router(publisher.router)
router.include_router(listening.router)
router.include_router(strategy.router)
router.include_router(streams.router)
