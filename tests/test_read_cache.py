"""The gateway's read cache on its own (``ReadCache``): misses shared, failures and answers
from before a write not kept, bounds, ages, refresh ahead; and which requests it may answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest

from services.gateway.read_cache import (
    Kept,
    ReadCache,
    asks_for_the_service,
    cache_key,
)
from shared.errors import DependencyUnavailableError


@dataclass
class Clock:
    """A clock the test sets by hand: the cache reads ``now`` each time it calls it."""

    now: float

    def __call__(self) -> float:
        return self.now


async def test_a_request_may_ask_for_the_services_answer() -> None:
    assert not asks_for_the_service({"cache-control": "max-age=1"})
    assert not asks_for_the_service({})
    for fresh in (
        {"cache-control": "no-cache"},
        {"cache-control": "max-age=0"},
        {"cache-control": "max-age=5, no-store"},
        {"pragma": "no-cache"},
        {"if-none-match": '"abc"'},
    ):
        assert asks_for_the_service(fresh), fresh


def kept(size: int) -> Kept:
    return Kept(b"x" * size, (("content-type", "application/json"),))


async def asked() -> tuple[str, Kept | None]:
    """A service's answer: the route's own result ("asked") and what the cache keeps."""
    return "asked", kept(10)


async def test_concurrent_misses_share_one_call_and_a_failure_is_not_kept() -> None:
    cache = ReadCache(max_age=1.0)
    key = cache_key("strategy", "GET", "/organizations/1")
    release = asyncio.Event()
    calls = 0

    async def failing() -> tuple[str, Kept | None]:
        nonlocal calls
        calls += 1
        await release.wait()
        raise RuntimeError("the service failed")

    waiting = [asyncio.create_task(cache.read(key, failing)) for _ in range(5)]
    await asyncio.sleep(0.05)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)

    assert calls == 1
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert len(cache) == 0

    async def answering() -> tuple[str, Kept | None]:
        nonlocal calls
        calls += 1
        return "answer", kept(10)

    assert await cache.read(key, answering) == "answer"
    assert await cache.read(key, answering) == kept(10)
    assert calls == 2


async def test_a_write_during_a_call_keeps_its_answer_out() -> None:
    cache = ReadCache(max_age=1.0)
    key = cache_key("strategy", "GET", "/organizations/1")
    release = asyncio.Event()

    async def held() -> tuple[str, Kept | None]:
        await release.wait()
        return "before the write", kept(10)

    reading = asyncio.create_task(cache.read(key, held))
    await asyncio.sleep(0.01)
    cache.clear()
    release.set()

    assert await reading == "before the write"
    assert len(cache) == 0


async def test_the_bounds_hold_least_recently_read_forgotten_first() -> None:
    cache = ReadCache(max_age=1.0, max_entries=3, max_bytes=4 * kept(1000).size)

    async def answer(size: int) -> tuple[str, Kept | None]:
        return "answer", kept(size)

    for number in range(5):
        await cache.read(cache_key(str(number)), lambda: answer(1000))
    assert len(cache) == 3
    # Read again, the oldest kept stays; a large answer then pushes out the others.
    assert await cache.read(cache_key("2"), lambda: answer(1000)) == kept(1000)
    await cache.read(cache_key("large"), lambda: answer(2500))

    assert len(cache) == 2
    assert cache.size_bytes <= cache.max_bytes
    assert await cache.read(cache_key("2"), lambda: answer(1000)) == kept(1000)


async def test_an_entry_is_served_until_read_cache_seconds_after_its_call() -> None:
    clock = Clock(100.0)
    cache = ReadCache(max_age=1.0, clock=clock)
    key = cache_key("1")

    assert await cache.read(key, asked) == "asked"
    # Read in the first half of its life only: a later read would ask for it again meanwhile.
    clock.now = 100.49
    assert await cache.read(key, asked) == kept(10)
    clock.now = 101.0
    assert await cache.read(key, asked) == "asked"


def kept_body(given: object) -> bytes:
    assert isinstance(given, Kept), given
    return given.body


async def test_an_answer_read_late_in_its_life_is_asked_again_in_the_background() -> None:
    clock = Clock(100.0)
    cache = ReadCache(max_age=1.0, clock=clock)
    key = cache_key("polled")
    answers = iter(["first", "second", "third"])
    asked_at: list[float] = []
    failing = False

    async def answer() -> tuple[str, Kept | None]:
        asked_at.append(clock.now)
        if failing:
            raise DependencyUnavailableError("strategy", "down")
        text = next(answers)
        return text, Kept(text.encode(), (("content-type", "application/json"),))

    async def settled() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    assert await cache.read(key, answer) == "first"
    clock.now = 100.4
    assert kept_body(await cache.read(key, answer)) == b"first"
    await settled()
    assert asked_at == [100.0]
    # Past half its life the kept answer is still given, and asked for again meanwhile.
    clock.now = 100.6
    assert kept_body(await cache.read(key, answer)) == b"first"
    await settled()
    assert asked_at == [100.0, 100.6]
    # The refreshed answer counts its age from its own call: given past the first one's end.
    clock.now = 101.3
    assert kept_body(await cache.read(key, answer)) == b"second"
    await settled()
    assert asked_at == [100.0, 100.6, 101.3]
    # A refresh that fails keeps nothing, and the answer kept before it expires as it would.
    failing = True
    clock.now = 101.9
    assert kept_body(await cache.read(key, answer)) == b"third"
    await settled()
    assert asked_at == [100.0, 100.6, 101.3, 101.9]
    clock.now = 102.3
    with pytest.raises(DependencyUnavailableError):
        await cache.read(key, answer)


async def test_reads_arriving_together_late_in_an_answers_life_start_one_refresh() -> None:
    clock = Clock(100.0)
    cache = ReadCache(max_age=1.0, clock=clock)
    key = cache_key("polled by many")
    calls = 0

    async def answer() -> tuple[str, Kept | None]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "answer", Kept(b"answer", (("content-type", "application/json"),))

    await cache.read(key, answer)
    clock.now = 100.6
    # As a loaded gateway has them: many reads of the key waiting in the loop at once.
    given = await asyncio.gather(*(cache.read(key, answer) for _ in range(64)))
    await asyncio.sleep(0.05)

    assert {kept_body(each) for each in given} == {b"answer"}
    assert calls == 2


async def test_a_young_answer_is_given_without_a_call_and_an_older_one_is_not() -> None:
    clock = Clock(100.0)
    cache = ReadCache(max_age=1.0, clock=clock)
    key = cache_key("detail")

    assert cache.young(key) is None
    await cache.read(key, asked)
    clock.now = 100.49
    assert cache.young(key) == kept(10)
    # Past half its life the route runs, so that a read refreshes it in the background.
    clock.now = 100.5
    assert cache.young(key) is None
    assert ReadCache(max_age=0).young(key) is None


async def test_a_composed_answer_ages_from_the_oldest_read_it_was_composed_from() -> None:
    clock = Clock(100.0)
    cache = ReadCache(max_age=1.0, clock=clock)
    key = cache_key("composed")

    async def composed() -> tuple[str, Kept | None]:
        # Composed at 100.0 from a part read at 99.6 (an engagement's live state, say).
        return "composed", replace(kept(10), as_of=99.6)

    assert await cache.read(key, composed) == "composed"
    clock.now = 100.09
    assert await cache.read(key, composed) == replace(kept(10), as_of=99.6)
    clock.now = 100.6
    assert await cache.read(key, composed) == "composed"
