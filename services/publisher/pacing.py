"""Each account's pace on this worker: a post waits here for its account's rate limit instead of
being sent to be refused.

What a platform says about an account's limit comes with its answers to the account's writes:
``Retry-After`` on a refusal (the account is closed until then), and where the platform documents
them the budget headers (``shared/rate_limits.py``: the limit, what remains, when it is whole
again). A post takes a turn from its account's pacer before its claim: the turn is given at once
while the account has budget left, or in order when the budget comes back (at the reset) or the
refusal's wait is over. A turn given and not spent on a send (the post was cancelled or moved
meanwhile) is handed back.

The state lives in this worker process only, keyed by connection: several publisher workers
each learn an account's limit from the answers they get, so between them they can still run
into it; a refusal then closes the account on the worker that got it, and the post goes back to
its batch with its ``Retry-After`` as before. Nothing here is durable or needed for correctness:
a post's claim, idempotency key, record and retries are the publisher's, and a restarted worker
learns the limits again from the platform's next answers.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections import deque
from collections.abc import AsyncIterator, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from shared.rate_limits import RateBudget, rate_budget


class WaitTooLongError(Exception):
    """The account's turn would come after the caller can wait: try again in ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the account's rate limit opens again in {retry_after:.1f} s")
        self.retry_after = retry_after


@dataclass
class _Account:
    """One account's limit as this worker knows it. Times are the event loop's clock."""

    turns: deque[asyncio.Future[None]] = field(default_factory=deque)
    # Closed by a refusal until then.
    closed_until: float = 0.0
    # The platform's last word on the budget, less the turns given since; None: not known (no
    # budget headers), so only refusals pace the account.
    limit: int | None = None
    remaining: int | None = None
    # When the budget is whole again; infinite once it has been refilled here, until the
    # platform's next answer says.
    reset_at: float = 0.0
    # Turns given and not yet over (sent and waiting for the answer, or about to be sent).
    given: int = 0
    # Whether the platform has answered a write of the account on this worker yet: until then
    # one turn at a time, so that the first answer tells the budget before a burst is sent.
    heard: bool = False
    timer: asyncio.TimerHandle | None = None

    def opens_in(self, now: float) -> float:
        """Roughly how long until a turn can be given."""
        if self.closed_until > now:
            return self.closed_until - now
        if self.remaining is not None and self.remaining <= 0 and math.isfinite(self.reset_at):
            return max(self.reset_at - now, 0.0)
        return 0.0


class Turn:
    """One post's turn: what the platform answers to its writes feeds its account's state."""

    def __init__(self, pacer: AccountPacer, account: _Account) -> None:
        self._pacer = pacer
        self._account = account
        self.answered = False

    def answer(self, status: int, headers: Mapping[str, str], retry_after: float | None) -> None:
        self.answered = True
        self._pacer._answered(self._account, status, rate_budget(headers), retry_after)


_turn: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("publish_turn", default=None)


def observe(status: int, headers: Mapping[str, str], retry_after: float | None) -> None:
    """An answer to a write sent during a post's turn (``connectors/http.py`` calls this for
    every write): the account's state follows it. Outside a turn, nothing."""
    turn = _turn.get()
    if turn is not None:
        turn.answer(status, headers, retry_after)


class AccountPacer:
    def __init__(self) -> None:
        self._accounts: dict[Hashable, _Account] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable, *, longest: float) -> AsyncIterator[Turn]:
        """Wait for the account's turn, at most ``longest`` seconds: ``WaitTooLongError`` at
        once when a refusal closed the account for longer, else once ``longest`` has passed."""
        account = self._accounts.setdefault(key, _Account())
        await self._wait(account, longest)
        turn = Turn(self, account)
        token = _turn.set(turn)
        try:
            yield turn
        finally:
            _turn.reset(token)
            if turn.answered:
                account.given -= 1
                self._give(account)
            else:
                self._hand_back(account)

    async def _wait(self, account: _Account, longest: float) -> None:
        loop = asyncio.get_running_loop()
        if account.closed_until - loop.time() > longest:
            raise WaitTooLongError(account.closed_until - loop.time())
        waiting: asyncio.Future[None] = loop.create_future()
        account.turns.append(waiting)
        self._give(account)
        if waiting.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(waiting), timeout=max(longest, 0.0))
        except TimeoutError:
            if waiting.done():
                # Given in the same instant the wait ran out: the turn is this post's.
                return
            waiting.cancel()
            raise WaitTooLongError(max(1.0, account.opens_in(loop.time()))) from None
        except asyncio.CancelledError:
            if waiting.done() and not waiting.cancelled():
                # A turn given to a post cancelled before it could take it goes to the next.
                self._hand_back(account)
            else:
                waiting.cancel()
            raise

    def _hand_back(self, account: _Account) -> None:
        """A turn over without a write: what it took from the budget is the next turn's."""
        account.given -= 1
        if account.remaining is not None:
            account.remaining += 1
        self._give(account)

    def _give(self, account: _Account) -> None:
        """Give turns in order while the account has budget; else wake when it opens (or at the
        next answer, when the budget came back and was given out before anyone answered)."""
        now = asyncio.get_running_loop().time()
        while account.turns:
            if account.turns[0].done():
                account.turns.popleft()
                continue
            if account.closed_until > now:
                self._wake_at(account, account.closed_until)
                return
            if not account.heard and account.given > 0:
                return
            if account.remaining is not None and account.remaining <= 0:
                if account.reset_at > now:
                    if math.isfinite(account.reset_at):
                        self._wake_at(account, account.reset_at)
                    return
                # Whole again since the platform last said; what is still out counts (when
                # all of it is, the next turn over counts again).
                account.remaining = (account.limit or 0) - account.given
                if account.remaining <= 0:
                    if account.given == 0:
                        # A limit of nothing: ask again in a second.
                        self._wake_at(account, now + 1.0)
                    return
                account.reset_at = math.inf
            account.given += 1
            if account.remaining is not None:
                account.remaining -= 1
            account.turns.popleft().set_result(None)

    def _wake_at(self, account: _Account, when: float) -> None:
        if account.timer is not None:
            if account.timer.when() <= when:
                return
            account.timer.cancel()
        loop = asyncio.get_running_loop()
        account.timer = loop.call_at(when, self._woken, account)

    def _woken(self, account: _Account) -> None:
        account.timer = None
        self._give(account)

    def _answered(
        self,
        account: _Account,
        status: int,
        budget: RateBudget | None,
        retry_after: float | None,
    ) -> None:
        now = asyncio.get_running_loop().time()
        account.heard = True
        if retry_after is not None or status == 429:
            # Refused: closed until the platform said, a second when it did not say.
            wait = retry_after if retry_after is not None else 1.0
            account.closed_until = max(account.closed_until, now + wait)
        if budget is not None:
            account.limit = budget.limit
            # The platform's figure counts this write; the other turns out may not be in it.
            account.remaining = budget.remaining - max(account.given - 1, 0)
            account.reset_at = now + budget.reset_seconds
        elif math.isinf(account.reset_at):
            # An answer that tells no budget (an error page on the way) after a refill: no
            # answer will say more, so the budget counts as whole again now.
            account.reset_at = now
        self._give(account)
