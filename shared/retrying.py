"""Connecting to a dependency that may not be up yet, without crashing the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0


async def until_connected(connect: Callable[[], Awaitable[T]], dependency: str) -> T:
    """Call ``connect`` until it succeeds, backing off exponentially up to a few seconds."""
    delay = FIRST_DELAY_SECONDS
    while True:
        try:
            return await connect()
        except Exception as error:  # the dependency is not up yet: keep trying quietly
            log.warning("%s not reachable (%s); retrying in %.1fs", dependency, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
