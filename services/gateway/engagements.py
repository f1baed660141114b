"""Workflow control from the gateway: start engagements, read their live state, send updates."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.gateway.live_states import LiveRead, LiveStates
from services.strategy.contracts import EngagementCreated
from services.strategy.schemas import EngagementOut
from shared.auth import Principal
from shared.errors import ConflictError, DependencyUnavailableError, ProblemError
from shared.settings import Settings
from shared.temporal import TemporalConnection
from workflows.engagement.messages import STATE_QUERY, Actor, EngagementState
from workflows.lifecycle_start import start_lifecycle

log = logging.getLogger(__name__)

Result = TypeVar("Result", bound=BaseModel)

# The problem kinds update validators refuse with (workflows/engagement/validators.py).
REFUSAL_STATUS = {"not-found": 404, "forbidden": 403, "validation-error": 422, "conflict": 409}


def actor_of(principal: Principal, engagement: EngagementOut) -> Actor:
    """The caller as the engagement's workflow sees it: its roles in the engagement's
    organisation."""
    return Actor(
        subject=principal.subject,
        roles=sorted(principal.roles_in(engagement.organization_id)),
        organizations=sorted(principal.organizations),
        all_organizations=principal.all_organizations,
    )


def _refusal(error: WorkflowUpdateFailedError) -> ProblemError:
    cause = error.cause
    if not isinstance(cause, ApplicationError) or cause.type not in REFUSAL_STATUS:
        return ConflictError(f"the engagement refused the request: {cause}")
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    if cause.type == "validation-error":
        field = f"body.{details.get('field', 'body')}"
        errors = [{"field": field, "message": cause.message, "type": "missing"}]
        return ProblemError(422, cause.type, cause.message, errors=errors)
    return ProblemError(REFUSAL_STATUS[cause.type], cause.type, cause.message, **details)


class EngagementControl(TemporalConnection):
    """Starts engagements' workflows, reads their live state and sends them updates."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.live_states = LiveStates(
            self._query_state, settings.gateway.live_state_max_age_seconds
        )

    async def start(self, engagement: EngagementOut, time_scale: float | None) -> None:
        created = EngagementCreated(
            engagement_id=engagement.id,
            organization_id=engagement.organization_id,
            mode=engagement.mode,
            channels=engagement.channels,
            starts_on=engagement.starts_on,
            ends_on=engagement.ends_on,
            time_scale=time_scale,
        )
        await start_lifecycle(self.client, self._settings, created)
        self.live_states.forget(engagement.workflow_id)

    async def state(self, engagement: EngagementOut) -> EngagementState | None:
        """The workflow's live state (read at most ``live_state_max_age_seconds`` ago), or None
        when its workflow was never started."""
        return await self.live_states.get(engagement.workflow_id)

    async def read_state(self, engagement: EngagementOut) -> LiveRead:
        """The workflow's live state as ``state`` gives it, with when it was queried."""
        return await self.live_states.read(engagement.workflow_id)

    async def _query_state(self, workflow_id: str) -> EngagementState | None:
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            # Temporal holds a query until a workflow worker takes it: with none running, the
            # caller gets a 503 (deadline exceeded) instead of waiting without end.
            state: EngagementState = await handle.query(
                STATE_QUERY,
                result_type=EngagementState,
                rpc_timeout=timedelta(seconds=self._settings.dependency_timeout_seconds),
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            # The client's own deadline surfaces as CANCELLED ("Timeout expired").
            if error.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise DependencyUnavailableError(
                    "workflow worker",
                    "The engagement's workflow did not answer in time; try again shortly.",
                ) from error
            raise
        return state

    async def update(
        self, engagement: EngagementOut, name: str, request: BaseModel, result: type[Result]
    ) -> Result:
        """Send an update; a validator's refusal becomes the problem it names."""
        handle = self.client.get_workflow_handle(engagement.workflow_id)
        try:
            # Like a query, an update waits for a workflow worker to take it: with none running
            # the caller gets a 503 after the deadline rather than a request that never ends.
            outcome: Result = await handle.execute_update(
                name,
                request,
                result_type=result,
                rpc_timeout=timedelta(seconds=self._settings.dependency_timeout_seconds * 3),
            )
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from error
        except WorkflowUpdateRPCTimeoutOrCancelledError as error:
            raise DependencyUnavailableError(
                "workflow worker",
                "The engagement's workflow did not take the request in time, and it may still "
                "do so: read the engagement before sending it again.",
            ) from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise ConflictError("the engagement's workflow is not running") from error
            raise
        finally:
            # Refused, accepted or unknown (a timeout): the next read asks the workflow again.
            self.live_states.forget(engagement.workflow_id)
        return outcome
