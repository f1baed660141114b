"""Engagements' live workflow states as the gateway last read them, each for at most a second.

A workflow query costs the Temporal server and the workflow worker more than the rest of a read
(issue 18: 5.7 and 3.9 CPU-ms per engagement read, against 0.07 in PostgreSQL), and a project
manager's dashboard reads the same few engagements over and over. So each engagement's state is
queried at most once per ``max_age`` seconds in a gateway process, concurrent readers share the
query in flight, and the answer is served until it is ``max_age`` old, counted from when its
query was sent: a state change is visible within ``max_age`` (at most a second) on every
replica, and at once on the replica that sent the change, which forgets what it held
(``forget``). A query that was in flight when the change was sent is not kept either.

Only states are kept: "never started" (``None``) and a failed query are answered again each time,
so an engagement whose workflow has just started shows it at once. What is kept is not a
permission: the engagement is read from the strategy service with the caller's token on every
read before its state is looked up here.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from workflows.engagement.messages import EngagementState

Query = Callable[[str], Awaitable[EngagementState | None]]


@dataclass(frozen=True)
class LiveRead:
    """A workflow's state (None: never started) and the clock time its query was sent."""

    state: EngagementState | None
    queried_at: float


@dataclass
class _Kept:
    state: EngagementState
    queried_at: float


@dataclass
class _InFlight:
    answer: asyncio.Task[EngagementState | None]
    started: float
    # Set when the state changed while the query was in flight: its answer is not kept.
    outdated: bool = False


class LiveStates:
    """The last state of each workflow read, by workflow id: at most ``max_entries`` of them,
    the least recently read forgotten first."""

    def __init__(
        self,
        query: Query,
        max_age: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._query = query
        self.max_age = max_age
        self.max_entries = max_entries
        self._clock = clock
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._in_flight: dict[str, _InFlight] = {}

    def __len__(self) -> int:
        return len(self._kept)

    async def get(self, workflow_id: str) -> EngagementState | None:
        """The workflow's state, at most ``max_age`` old; None when it was never started."""
        return (await self.read(workflow_id)).state

    async def read(self, workflow_id: str) -> LiveRead:
        """The workflow's state, at most ``max_age`` old, and when its query was sent."""
        kept = self._kept.get(workflow_id)
        if kept is not None:
            if self._clock() - kept.queried_at < self.max_age:
                self._kept.move_to_end(workflow_id)
                return LiveRead(kept.state, kept.queried_at)
            del self._kept[workflow_id]
        if self.max_age <= 0:
            queried_at = self._clock()
            return LiveRead(await self._query(workflow_id), queried_at)
        read = self._in_flight.get(workflow_id)
        if read is None:
            read = self._start(workflow_id)
        # A caller that leaves (a client disconnecting) does not cancel the others' query.
        return LiveRead(await asyncio.shield(read.answer), read.started)

    def forget(self, workflow_id: str) -> None:
        """The workflow's state has just been changed: read it again next time."""
        self._kept.pop(workflow_id, None)
        read = self._in_flight.pop(workflow_id, None)
        if read is not None:
            read.outdated = True

    def _start(self, workflow_id: str) -> _InFlight:
        read = _InFlight(asyncio.ensure_future(self._query(workflow_id)), self._clock())
        self._in_flight[workflow_id] = read
        read.answer.add_done_callback(lambda answer: self._settle(workflow_id, read, answer))
        return read

    def _settle(
        self, workflow_id: str, read: _InFlight, answer: asyncio.Task[EngagementState | None]
    ) -> None:
        if self._in_flight.get(workflow_id) is read:
            del self._in_flight[workflow_id]
        # Retrieved here, so that a failure whose callers all left is not reported as unseen.
        if answer.cancelled() or answer.exception() is not None or read.outdated:
            return
        state = answer.result()
        if state is None:
            return
        self._kept[workflow_id] = _Kept(state, read.started)
        self._kept.move_to_end(workflow_id)
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)
