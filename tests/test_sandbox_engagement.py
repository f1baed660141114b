"""The sandbox's simulated audience is deterministic, and its figures never go down."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from services.sandbox import engagement
from services.sandbox.limits import TokenBucket, TrafficControl
from services.sandbox.voices import PLACE_JITTER_DEGREES, TOWNS, voice
from shared.settings import SandboxSettings

seeds = st.integers(min_value=0, max_value=2**31)
post_ids = st.from_regex(r"post-[0-9]{6}", fullmatch=True)
audiences = st.integers(min_value=0, max_value=1_000_000)
elapsed = st.floats(min_value=0, max_value=90 * 86400, allow_nan=False)


@given(seeds, post_ids, audiences, st.booleans(), elapsed)
def test_same_seed_post_and_elapsed_give_the_same_metrics(
    seed: int, post_id: str, audience: int, has_video: bool, seconds: float
) -> None:
    def figures() -> engagement.Figures:
        total = engagement.totals(seed, post_id, audience, has_video)
        return engagement.figures_at(total, seconds)

    assert figures() == figures()
    assert (figures().views is None) is not has_video


@given(seeds, post_ids, audiences, st.booleans(), elapsed, elapsed)
def test_metrics_never_decrease_and_stay_below_their_totals(
    seed: int, post_id: str, audience: int, has_video: bool, first: float, second: float
) -> None:
    earlier, later = sorted((first, second))
    total = engagement.totals(seed, post_id, audience, has_video)
    before, after = engagement.figures_at(total, earlier), engagement.figures_at(total, later)
    for name in ("impressions", "reach", "likes", "comments", "shares", "saves", "views"):
        low, high, ceiling = (getattr(f, name) for f in (before, after, total))
        if ceiling is None:
            continue
        assert low <= high <= ceiling, name
    assert after.reach <= after.impressions
    assert total.comments <= engagement.MAX_COMMENTS_PER_POST


def test_posts_differ_and_seeds_differ() -> None:
    day = 86400.0
    by_post = {
        engagement.figures_at(engagement.totals(1, f"post-{n:06d}", 2000, False), day).likes
        for n in range(1, 21)
    }
    assert len(by_post) > 5  # appeal varies from post to post
    by_seed = {
        engagement.figures_at(engagement.totals(seed, "post-000001", 2000, False), day)
        for seed in range(10)
    }
    assert len(by_seed) > 1


@given(seeds, st.text(min_size=1, max_size=20), elapsed, elapsed)
def test_followers_grow_and_never_shrink(
    seed: int, account_id: str, first: float, second: float
) -> None:
    earlier, later = sorted((first, second))
    before = engagement.followers(seed, account_id, earlier)
    assert 300 <= before <= engagement.followers(seed, account_id, later)


def test_comment_times_follow_the_count() -> None:
    total = 40
    delays = [engagement.comment_delay(total, index) for index in range(total)]
    assert delays == sorted(delays)
    for index, delay in enumerate(delays[:-1]):
        # Just after comment ``index`` appears, the count shown includes it.
        fraction = engagement.progress(delay + 1e-6)
        assert math.floor(total * fraction) >= index + 1


@given(seeds, st.integers(min_value=0, max_value=10_000))
def test_mentions_fall_in_their_own_windows(seed: int, index: int) -> None:
    gap = engagement.MENTION_GAP_SECONDS
    at = engagement.mention_delay(seed, "acct-0001", index)
    assert index * gap <= at < (index + 1) * gap
    assert engagement.mentions_until(at) >= index + 1


def test_voices_are_deterministic_and_mixed() -> None:
    voices = [voice(3, "comment", "post-000001", index, "cantina") for index in range(300)]
    assert voices == [voice(3, "comment", "post-000001", i, "cantina") for i in range(300)]
    assert {v.language for v in voices} == {"it", "en"}
    assert {v.sentiment for v in voices} == {"positive", "neutral", "negative"}
    places = [v.place for v in voices if v.place is not None]
    assert 0.25 < len(places) / len(voices) < 0.55
    towns = {name: (lat, lon) for name, lat, lon in TOWNS}
    for place in places:
        latitude, longitude = towns[place.name]
        assert abs(place.latitude - latitude) <= PLACE_JITTER_DEGREES + 1e-5
        assert abs(place.longitude - longitude) <= PLACE_JITTER_DEGREES + 1e-5
    mention = voice(3, "mention", "acct-0001", 0, "cantina")
    assert "@cantina" in mention.text


@given(
    st.floats(min_value=0.1, max_value=100),
    st.integers(min_value=1, max_value=50),
    st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200),
)
def test_token_bucket_never_admits_more_than_burst_plus_refill(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        decision = bucket.take(now)
        admitted += decision.allowed
        assert decision.allowed or decision.retry_after_seconds >= 1
    assert admitted <= burst + rate * now + 1e-9


def test_failure_sequence_repeats_with_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        traffic = TrafficControl(SandboxSettings(seed=seed, failure_rate=0.1))
        return [traffic.next_call_fails() for _ in range(2000)]

    assert pattern(11) == pattern(11)
    assert pattern(11) != pattern(12)
    assert 0.08 <= sum(pattern(11)) / 2000 <= 0.12
