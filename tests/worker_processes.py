"""``engage worker NAME`` as a process of its own, for the tests that kill one: it reads the
test's settings from ``ENGAGE_*`` variables, is ready once Temporal sees it poll its task queue,
and can be killed (SIGKILL) and started again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from engage.infra import terminate_group
from shared.settings import Settings
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_SECONDS = 20.0


def worker_environment(
    settings: Settings, scratch: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The test's settings as ``ENGAGE_*`` variables (``extra`` adds some), and nothing of the
    caller's own ``ENGAGE_*``."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGE_")}
    return inherited | {
        "ENGAGE_ENVIRONMENT": settings.environment,
        "ENGAGE_DATABASE_URL": settings.database_url,
        "ENGAGE_NATS_URL": settings.nats_url,
        "ENGAGE_DATA_DIR": str(scratch),
        "ENGAGE_TEMPORAL__ADDRESS": settings.temporal.address,
        "ENGAGE_TEMPORAL__NAMESPACE": settings.temporal.namespace,
        "ENGAGE_TEMPORAL__TASK_QUEUE_PREFIX": settings.temporal.task_queue_prefix,
        "ENGAGE_EVENTS__STREAM": settings.events.stream,
        "ENGAGE_EVENTS__SUBJECT_PREFIX": settings.events.subject_prefix,
        # Heartbeat files go to a directory of the test's own.
        "TMPDIR": str(scratch),
        **(extra or {}),
    }


class WorkerProcess:
    """``engage worker <name>`` in a process group of its own, logging to ``log``; ready once a
    poller with its pid (Temporal's ``<pid>@<host>`` identity) is on ``queue``."""

    def __init__(
        self,
        name: str,
        temporal: Client,
        queue: str,
        queue_type: TaskQueueType.ValueType,
        environment: dict[str, str],
        log: Path,
    ) -> None:
        self.name = name
        self._temporal = temporal
        self._queue = queue
        self._queue_type = queue_type
        self._environment = environment
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "engage", "worker", self.name),
                cwd=ROOT,
                env=self._environment,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        await wait_until(self._polling, timeout=60, interval=0.2)

    async def _polling(self) -> bool:
        assert self._process is not None
        assert self._process.returncode is None, self._log.read_text()
        try:
            described = await self._temporal.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self._temporal.namespace,
                    task_queue=TaskQueue(name=self._queue),
                    task_queue_type=self._queue_type,
                )
            )
        except RPCError:
            # A busy server (a loaded machine) cancels the call at its deadline: ask again.
            return False
        identity = f"{self._process.pid}@"
        return any(poller.identity.startswith(identity) for poller in described.pollers)

    async def kill(self) -> int:
        """SIGKILL to the whole group: nothing in the worker gets to clean up."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGKILL)
        return await self._process.wait()

    async def stop(self) -> None:
        if self._process is not None:
            await terminate_group(self._process, STOP_GRACE_SECONDS)
