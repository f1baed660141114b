"""The one way to reach Temporal: pydantic payloads, tracing, and TLS or an API key as the
settings say, on every client."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import TLSConfig

from shared.errors import DependencyUnavailableError
from shared.retrying import until_connected
from shared.settings import Settings
from shared.telemetry import temporal_interceptors


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal.address,
        data_converter=pydantic_data_converter,
        interceptors=[*temporal_interceptors(), ActorSigning.from_settings(settings)],
        **connect_options(settings),
    )


def connect_options(settings: Settings) -> dict[str, Any]:
    """The namespace and the transport security of a connection: ``tls`` is ``False`` (plaintext,
    the development server) or a ``TLSConfig`` from the configured PEM files, read now so that a
    rotated certificate is picked up on the next connection."""
    temporal = settings.temporal
    options: dict[str, Any] = {"namespace": temporal.namespace, "tls": False}
    if temporal.uses_tls(settings.environment):
        options["tls"] = TLSConfig(
            server_root_ca_cert=_pem(temporal.tls_server_ca_cert_file),
            client_cert=_pem(temporal.tls_client_cert_file),
            client_private_key=_pem(temporal.tls_client_key_file),
            domain=temporal.tls_server_name or None,
        )
    if temporal.api_key is not None:
        options["api_key"] = temporal.api_key.get_secret_value()
    return options


def _pem(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


# The header of a workflow update that carries the signature of its ``actor``.
ACTOR_SIGNATURE_HEADER = "engage-actor-signature"
# How far ahead of the workflow's clock a signature may be dated (the clocks of two machines).
ACTOR_CLOCK_SKEW_SECONDS = 60


def actor_signature(
    key: bytes, workflow_id: str, update: str, actor: BaseModel, issued_at: int
) -> str:
    """HMAC-SHA256 over what a signed update asserts: this actor, this update, this workflow,
    at this time."""
    message = "\n".join((workflow_id, update, actor.model_dump_json(), str(issued_at)))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _actor_of(args: Sequence[Any]) -> BaseModel | None:
    """The ``actor`` an update's input carries (the engagement updates), or None."""
    actor = getattr(args[0], "actor", None) if len(args) == 1 else None
    return actor if isinstance(actor, BaseModel) else None


class ActorSigning(temporal_client.Interceptor, temporal_worker.Interceptor):
    """Updates carry the actor the gateway vouches for, and workflows believe only that.

    On a client, every update whose input has an ``actor`` gets a signature header (with the
    first key). On a worker that verifies, the update's validator first checks it (with any
    key): an unsigned, forged, replayed-elsewhere or stale actor is refused as ``forbidden``
    before the workflow's own validator sees it. Validators do not run on replay, so rotating
    the keys never breaks a history.
    """

    def __init__(
        self,
        keys: Sequence[bytes],
        *,
        verify: bool,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = tuple(keys)
        self.verify = verify
        self.max_age_seconds = max_age_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ActorSigning:
        temporal = settings.temporal
        return cls(
            temporal.actor_keys(settings.environment),
            verify=temporal.verifies_actors(settings.environment),
            max_age_seconds=temporal.actor_signature_max_age_seconds,
        )

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _SigningOutbound(next, self)

    def workflow_interceptor_class(
        self, input: temporal_worker.WorkflowInterceptorClassInput
    ) -> type[temporal_worker.WorkflowInboundInterceptor] | None:
        if not self.verify:
            return None
        signing = self

        class VerifyingInbound(temporal_worker.WorkflowInboundInterceptor):
            def handle_update_validator(self, input: temporal_worker.HandleUpdateInput) -> None:
                actor = _actor_of(input.args)
                if actor is not None:
                    signing.check(
                        workflow.info().workflow_id,
                        input.update,
                        actor,
                        input.headers.get(ACTOR_SIGNATURE_HEADER),
                        workflow.now().timestamp(),
                    )
                super().handle_update_validator(input)

        return VerifyingInbound

    def sign(self, workflow_id: str, update: str, actor: BaseModel) -> Payload | None:
        if not self.keys:
            return None
        issued_at = int(self._clock())
        signature = actor_signature(self.keys[0], workflow_id, update, actor, issued_at)
        data = json.dumps({"issued_at": issued_at, "signature": signature}).encode()
        return Payload(metadata={"encoding": b"json/plain"}, data=data)

    def check(
        self,
        workflow_id: str,
        update: str,
        actor: BaseModel,
        header: Payload | None,
        now: float,
    ) -> None:
        """Refuse (``forbidden``) unless ``header`` signs ``actor`` for this update, recently."""
        try:
            claim = json.loads(header.data) if header is not None else {}
            issued_at, signature = int(claim["issued_at"]), str(claim["signature"])
        except (KeyError, TypeError, ValueError):
            raise _refusal("the request's actor is not signed by the gateway") from None
        if not any(
            hmac.compare_digest(
                signature, actor_signature(key, workflow_id, update, actor, issued_at)
            )
            for key in self.keys
        ):
            raise _refusal("the request's actor does not match the gateway's signature")
        if not now - self.max_age_seconds <= issued_at <= now + ACTOR_CLOCK_SKEW_SECONDS:
            raise _refusal("the request's actor signature has expired")


def _refusal(message: str) -> ApplicationError:
    return ApplicationError(message, type="forbidden", non_retryable=True)


class _SigningOutbound(temporal_client.OutboundInterceptor):
    def __init__(self, next: temporal_client.OutboundInterceptor, signing: ActorSigning) -> None:
        super().__init__(next)
        self._signing = signing

    async def start_workflow_update(
        self, input: temporal_client.StartWorkflowUpdateInput
    ) -> temporal_client.WorkflowUpdateHandle[Any]:
        actor = _actor_of(input.args)
        signed = self._signing.sign(input.id, input.update, actor) if actor is not None else None
        if signed is not None:
            input.headers = {**input.headers, ACTOR_SIGNATURE_HEADER: signed}
        return await super().start_workflow_update(input)


async def ensure_interval_schedule(
    client: Client,
    schedule_id: str,
    workflow: str,
    argument: BaseModel,
    task_queue: str,
    every: timedelta,
) -> None:
    """Keep one schedule starting ``workflow`` (with id ``schedule_id``) every ``every``; one
    in place already is left as it is. A run still going when the next is due makes the next
    wait (the schedule's default overlap policy skips it)."""
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    workflow, argument, id=schedule_id, task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            ),
        )
    except ScheduleAlreadyRunningError:
        return


class TemporalConnection:
    """A Temporal client for an HTTP service, connected in the background so the service starts
    (and reports not-ready) while Temporal is away; requests meanwhile get a 503."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._connecting: asyncio.Task[None] | None = None

    def start_connecting(self) -> None:
        self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        self._client = await until_connected(lambda: connect_temporal(self._settings), "temporal")

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting

    @property
    def client(self) -> Client:
        return self.require_connection()

    def require_connection(self) -> Client:
        if self._client is None:
            raise DependencyUnavailableError("temporal")
        return self._client

    async def check(self) -> None:
        await self.client.workflow_service.get_system_info(GetSystemInfoRequest())
