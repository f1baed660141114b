"""A worker's background loops (the outbox relay, the consumers feeding read models) outlive a
failure: one that stops with an error is started again until the worker stops."""

from __future__ import annotations

import asyncio

import pytest

from shared import worker


async def test_a_loop_that_fails_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "RESTART_SECONDS", 0.01)
    stop = asyncio.Event()
    runs: list[int] = []

    async def consumer() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            # As when NATS times out while the consumer subscribes at start-up.
            raise TimeoutError("nats: timeout")
        stop.set()

    await asyncio.wait_for(worker.keep_running("consumer test", consumer, stop), timeout=5)

    assert runs == [0, 1]


async def test_a_loop_is_not_started_again_once_the_worker_stops() -> None:
    stop = asyncio.Event()
    runs: list[int] = []

    async def relay() -> None:
        runs.append(len(runs))
        stop.set()

    await asyncio.wait_for(worker.keep_running("relay test", relay, stop), timeout=5)

    assert runs == [0]
