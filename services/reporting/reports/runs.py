"""Starting and signalling ``EngagementReportWorkflow`` from the reporting service's API."""

from __future__ import annotations

import contextlib
import logging

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from services.reporting.contracts import (
    REPORT_DECIDED_SIGNAL,
    REPORT_WORKFLOW,
    ReportDecided,
    ReportRunInput,
)
from services.reporting.models import Report
from shared import task_queues
from shared.settings import Settings
from shared.temporal import TemporalConnection

log = logging.getLogger(__name__)


class ReportRuns:
    def __init__(self, temporal: TemporalConnection, settings: Settings) -> None:
        self._temporal = temporal
        self.prefix = settings.temporal.task_queue_prefix

    def require_connection(self) -> None:
        """503 now, before anything is stored, when Temporal is away."""
        self._temporal.require_connection()

    async def start(self, report: Report) -> None:
        """One workflow per report, whoever asks twice."""
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._temporal.client.start_workflow(
                REPORT_WORKFLOW,
                ReportRunInput(report_id=report.id, task_queue_prefix=self.prefix),
                id=report.workflow_id,
                task_queue=self.prefix + task_queues.WORKFLOWS,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def decided(self, report: Report, approved: bool) -> None:
        """Wake the report's workflow; a lost signal only delays it until it next looks at the
        stored decision itself."""
        handle = self._temporal.client.get_workflow_handle(report.workflow_id)
        try:
            await handle.signal(REPORT_DECIDED_SIGNAL, ReportDecided(approved=approved))
        except RPCError as error:
            log.warning("could not signal %s: %s", report.workflow_id, error)
