"""Deterministic engagement: the same seed, post and elapsed time always give the same figures.

Time here is *simulated* seconds (real seconds times the configured engagement speed). A post has
a hidden appeal drawn from the seed and its id; its totals follow from its audience (the account's
followers when it was published) and that appeal, and it approaches them along the saturating
curve ``1 - exp(-t / tau)``. Figures are floored, so they never go down as time passes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

ENGAGEMENT_TAU_SECONDS = 6 * 3600.0
MAX_COMMENTS_PER_POST = 400
# A mention of an account happens, on average, every two simulated hours.
MENTION_GAP_SECONDS = 2 * 3600.0
DAY_SECONDS = 86400.0


def unit(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the parts: no state, no RNG object."""
    key = ":".join(str(part) for part in (seed, *parts)).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def progress(elapsed: float) -> float:
    return 0.0 if elapsed <= 0 else 1.0 - math.exp(-elapsed / ENGAGEMENT_TAU_SECONDS)


def followers(seed: int, account_id: str, elapsed: float) -> int:
    """A few hundred to a few thousand followers at sign-up, gaining a steady number a day."""
    base = 300 + math.floor(4700 * unit(seed, "followers", account_id) ** 2)
    daily_gain = 5 + 45 * unit(seed, "follower-gain", account_id)
    return base + math.floor(daily_gain * max(elapsed, 0.0) / DAY_SECONDS)


@dataclass(frozen=True)
class Figures:
    impressions: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    views: int | None


def totals(seed: int, post_id: str, audience: int, has_video: bool) -> Figures:
    """What the post reaches when its curve saturates; most posts are modest, a few take off."""

    def rate(name: str, low: float, high: float) -> float:
        return low + (high - low) * unit(seed, name, post_id)

    appeal = 0.2 + 2.8 * unit(seed, "appeal", post_id) ** 3
    impressions = round(audience * 1.5 * appeal) + 20
    reach = round(impressions * rate("reach", 0.55, 0.85))
    likes = round(reach * rate("likes", 0.02, 0.10))
    return Figures(
        impressions=impressions,
        reach=reach,
        likes=likes,
        comments=min(MAX_COMMENTS_PER_POST, round(likes * rate("comments", 0.05, 0.20))),
        shares=round(likes * rate("shares", 0.02, 0.12)),
        saves=round(likes * rate("saves", 0.01, 0.06)),
        views=round(impressions * rate("views", 0.3, 0.7)) if has_video else None,
    )


def _share(total: int, fraction: float) -> int:
    return math.floor(total * fraction)


def figures_at(total: Figures, elapsed: float) -> Figures:
    fraction = progress(elapsed)
    return Figures(
        impressions=_share(total.impressions, fraction),
        reach=_share(total.reach, fraction),
        likes=_share(total.likes, fraction),
        comments=_share(total.comments, fraction),
        shares=_share(total.shares, fraction),
        saves=_share(total.saves, fraction),
        views=None if total.views is None else _share(total.views, fraction),
    )


def comment_delay(total_comments: int, index: int) -> float:
    """When comment ``index`` (0-based) appears: the time the comment count first exceeds it."""
    fraction = min((index + 1) / total_comments, 1.0 - 1e-12)
    return -ENGAGEMENT_TAU_SECONDS * math.log(1.0 - fraction)


def mention_delay(seed: int, account_id: str, index: int) -> float:
    """Mention ``index`` falls somewhere in its own gap-long window, so the order is fixed."""
    return (index + unit(seed, "mention-at", account_id, index)) * MENTION_GAP_SECONDS


def mentions_until(elapsed: float) -> int:
    """An upper bound on how many mentions have happened by ``elapsed``."""
    return max(0, math.floor(elapsed / MENTION_GAP_SECONDS) + 1)
