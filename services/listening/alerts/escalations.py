"""Telling an alert's ``CrisisEscalation`` workflow what the API stored.

The database is what counts: the workflow reads the alert before every escalation and while it
waits for the resolution, so a signal that cannot be sent (Temporal away, the workflow not
started yet or over) is logged and the request still succeeds."""

from __future__ import annotations

import logging
import uuid

from pydantic import BaseModel
from temporalio.service import RPCError

from services.listening.alerts.contracts import crisis_workflow_id
from shared.errors import DependencyUnavailableError
from shared.temporal import TemporalConnection

log = logging.getLogger(__name__)


class AlertEscalations:
    def __init__(self, temporal: TemporalConnection) -> None:
        self._temporal = temporal

    async def signal(self, alert_id: uuid.UUID, signal: str, payload: BaseModel) -> bool:
        """Whether the alert's workflow got ``signal``."""
        try:
            client = self._temporal.require_connection()
            await client.get_workflow_handle(crisis_workflow_id(alert_id)).signal(signal, payload)
        except (DependencyUnavailableError, RPCError) as error:
            log.warning("alert %s: %s not signalled to its escalation: %s", alert_id, signal, error)
            return False
        return True
