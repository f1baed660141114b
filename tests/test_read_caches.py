"""What a read remembers between requests, and what it must not: a verified token until its
expiry and no longer, never a refused one; an engagement's live state for ``max_age`` at most,
one query for concurrent readers, nothing kept across a change, "never started" or a failure;
the gateway's connections to a service, one request each at a time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from services.gateway.live_states import LiveStates
from shared import auth
from shared.auth import Role, TokenVerifier, issue_dev_token
from shared.domain import Phase
from shared.errors import DependencyUnavailableError, ProblemError
from shared.keep_alive import ConnectionLanes
from shared.settings import AuthSettings, Settings
from workflows.engagement.messages import EngagementState, EngagementStatus


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingVerifier(TokenVerifier):
    """Counts the tokens it actually decodes."""

    decoded = 0

    async def _decode(self, token: str) -> dict[str, object]:
        self.decoded += 1
        return await super()._decode(token)


async def test_a_verified_token_is_remembered_until_it_expires_and_no_longer() -> None:
    settings = Settings(environment="test")
    token = issue_dev_token(settings, "giulia", [Role.MANAGER], ["*"], ttl=timedelta(seconds=1))
    verifier = CountingVerifier(settings)

    first = await verifier.verify(token)
    again = await verifier.verify(token)
    assert again == first
    assert verifier.decoded == 1

    # Past its exp the token is decoded again, and refused as any expired token is.
    await asyncio.sleep(1.2)
    with pytest.raises(ProblemError) as expired:
        await verifier.verify(token)
    assert expired.value.status == 401
    assert verifier.decoded == 2


async def test_a_remembered_token_is_checked_again_after_a_minute_however_long_it_lives() -> None:
    settings = Settings(environment="test")
    token = issue_dev_token(settings, "giulia", [Role.MANAGER], ["*"], ttl=timedelta(hours=8))
    clock = Clock(time.time())
    verifier = CountingVerifier(settings, clock=clock)

    await verifier.verify(token)
    clock.now += auth.VERIFIED_TOKEN_SECONDS - 1
    await verifier.verify(token)
    assert verifier.decoded == 1
    clock.now += 2
    await verifier.verify(token)
    assert verifier.decoded == 2


async def test_a_refused_token_is_never_remembered() -> None:
    settings = Settings(environment="test")
    forged = issue_dev_token(
        Settings(
            environment="test", auth=AuthSettings(jwt_secret="another-secret-of-enough-length")
        ),
        "mallory",
        [Role.ADMIN],
        ["*"],
    )
    verifier = CountingVerifier(settings)
    for _ in range(3):
        with pytest.raises(ProblemError):
            await verifier.verify(forged)
    assert verifier.decoded == 3


async def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_TOKENS", 3)
    settings = Settings(environment="test")
    tokens = [issue_dev_token(settings, f"user-{n}", [Role.MANAGER], ["*"]) for n in range(5)]
    verifier = CountingVerifier(settings)
    for token in tokens:
        await verifier.verify(token)
    assert len(verifier._verified) == 3
    # The least recently used went first: the last three still answer without a decode.
    for token in tokens[2:]:
        await verifier.verify(token)
    assert verifier.decoded == 5
    await verifier.verify(tokens[0])
    assert verifier.decoded == 6


def running_state(revision: int) -> EngagementState:
    return EngagementState(status=EngagementStatus.RUNNING, phase=Phase.ANALYSIS, revision=revision)


async def revision(states: LiveStates, workflow_id: str = "w") -> int:
    state = await states.get(workflow_id)
    assert state is not None
    return state.revision


class Workflows:
    """A stand-in for the workflow query: counts queries, answers when released."""

    def __init__(self) -> None:
        self.queries = 0
        self.revision = 0
        self.release = asyncio.Event()
        self.release.set()
        self.failure: Exception | None = None
        self.started = True

    async def query(self, workflow_id: str) -> EngagementState | None:
        self.queries += 1
        revision = self.revision
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return running_state(revision) if self.started else None


async def test_a_state_answers_reads_for_max_age_then_is_queried_again() -> None:
    workflows, clock = Workflows(), Clock(100.0)
    states = LiveStates(workflows.query, max_age=0.5, clock=clock)

    assert await revision(states) == 0
    workflows.revision = 1
    clock.now += 0.4
    assert await revision(states) == 0, "still fresh"
    clock.now += 0.1
    assert await revision(states) == 1, "half a second old: queried again"
    assert workflows.queries == 2


async def test_concurrent_reads_share_one_query() -> None:
    workflows = Workflows()
    workflows.release.clear()
    states = LiveStates(workflows.query, max_age=0.5)

    readers = [asyncio.create_task(states.get("w")) for _ in range(20)]
    await asyncio.sleep(0)
    workflows.release.set()
    answers = await asyncio.gather(*readers)

    assert workflows.queries == 1
    assert {answer.revision for answer in answers if answer is not None} == {0}


async def test_a_change_is_read_at_once_even_over_a_query_in_flight() -> None:
    workflows = Workflows()
    states = LiveStates(workflows.query, max_age=1.0)
    assert await revision(states) == 0

    # A query sent before the change, answering after it: its answer is not kept.
    states.forget("w")
    workflows.release.clear()
    stale = asyncio.create_task(states.get("w"))
    while workflows.queries < 2:
        await asyncio.sleep(0)
    workflows.revision = 1
    states.forget("w")
    workflows.release.set()
    outdated = await stale
    assert outdated is not None
    assert outdated.revision == 0
    assert await revision(states) == 1
    assert workflows.queries == 3


async def test_never_started_and_failures_are_not_kept() -> None:
    workflows = Workflows()
    states = LiveStates(workflows.query, max_age=1.0)

    workflows.started = False
    assert await states.get("w") is None
    workflows.started = True
    assert await states.get("w") is not None, "started meanwhile: seen at once"

    states.forget("w")
    workflows.failure = DependencyUnavailableError("workflow worker")
    with pytest.raises(DependencyUnavailableError):
        await states.get("w")
    workflows.failure = None
    assert await states.get("w") is not None
    assert workflows.queries == 4


async def test_a_reader_leaving_does_not_cancel_the_others_query() -> None:
    workflows = Workflows()
    workflows.release.clear()
    states = LiveStates(workflows.query, max_age=1.0)

    leaving = asyncio.create_task(states.get("w"))
    staying = asyncio.create_task(states.get("w"))
    await asyncio.sleep(0)
    leaving.cancel()
    workflows.release.set()

    answer = await staying
    assert answer is not None
    assert answer.revision == 0
    assert leaving.cancelled()
    assert workflows.queries == 1


async def test_kept_states_are_bounded() -> None:
    workflows = Workflows()
    states = LiveStates(workflows.query, max_age=1.0, max_entries=2)
    for workflow_id in ("a", "b", "c"):
        await states.get(workflow_id)
    assert len(states) == 2
    await states.get("a")
    assert workflows.queries == 4, "the least recently read was forgotten"


async def test_max_age_zero_queries_every_read() -> None:
    workflows = Workflows()
    states = LiveStates(workflows.query, max_age=0)
    for _ in range(3):
        await states.get("w")
    assert workflows.queries == 3
    assert len(states) == 0


async def test_connection_lanes_lend_one_request_each_and_at_most_size_at_once() -> None:
    lanes = ConnectionLanes(2, timeout=1.0)
    first, second = await lanes.acquire(), await lanes.acquire()
    assert first is not second
    third = asyncio.create_task(lanes.acquire())
    await asyncio.sleep(0.01)
    assert not third.done(), "a third request waits for a lane"

    lanes.release(second)
    assert await third is second, "the lane just returned, with its warm connection"
    # A lane serving a streamed answer stops counting at once, and comes back when closed.
    lanes.detach()
    assert await lanes.acquire() not in (first, second)
    await lanes.return_detached(third.result())
    await lanes.aclose()
