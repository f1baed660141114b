"""The verifiable draw: anyone can recompute it from its record, and it is fair."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.content.contests import draw

entry_sets = st.lists(st.uuids(), unique=True, max_size=60)
seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
counts = st.integers(min_value=0, max_value=70)

# Entries 1..10 drawn with the seed 0x00..2a: frozen, so that the algorithm cannot drift.
KNOWN_PICKS = [2, 4, 10]
KNOWN_HASH = "4e8dae279a966d1421102c4ccfd0768e45e2f1be3696c7e7a700fa763a759f9e"


def by_the_description(seed: str, entry_ids: list[uuid.UUID], count: int) -> list[uuid.UUID]:
    """What a third party writes from ``ALGORITHM_DESCRIPTION`` alone."""
    candidates = sorted(str(entry_id) for entry_id in entry_ids)
    key = bytes.fromhex(seed)
    blocks = (
        int.from_bytes(hmac.new(key, k.to_bytes(8, "big"), hashlib.sha256).digest(), "big")
        for k in range(10**9)
    )

    def below(m: int) -> int:
        limit = 2**256 - 2**256 % m
        x = next(blocks)
        while x >= limit:
            x = next(blocks)
        return x % m

    for i in range(min(count, len(candidates))):
        j = i + below(len(candidates) - i)
        candidates[i], candidates[j] = candidates[j], candidates[i]
    return [uuid.UUID(text) for text in candidates[:count]]


@given(entry_ids=entry_sets, count=counts, data=st.data())
def test_a_recorded_draw_recomputes_from_its_seed_in_any_order(
    entry_ids: list[uuid.UUID], count: int, data: st.DataObject
) -> None:
    record = draw.perform(entry_ids, count)
    shuffled = data.draw(st.permutations(entry_ids))
    assert draw.recompute(record.seed, shuffled, count) == record.picks
    assert draw.entries_hash(shuffled) == record.entries_hash
    assert record.entry_ids == sorted(entry_ids, key=str)


@given(seed=seeds, entry_ids=entry_sets, count=counts)
def test_winners_are_distinct_eligible_entries(
    seed: str, entry_ids: list[uuid.UUID], count: int
) -> None:
    picks = draw.recompute(seed, entry_ids, count)
    assert len(picks) == min(count, len(entry_ids))
    assert len(set(picks)) == len(picks)
    assert set(picks) <= set(entry_ids)


@given(seed=seeds, entry_ids=entry_sets, count=counts)
def test_the_published_description_is_enough_to_recompute(
    seed: str, entry_ids: list[uuid.UUID], count: int
) -> None:
    assert draw.recompute(seed, entry_ids, count) == by_the_description(seed, entry_ids, count)


@given(seed=seeds, entry_ids=entry_sets.filter(lambda ids: len(ids) > 1))
def test_fewer_picks_are_a_prefix_of_more(seed: str, entry_ids: list[uuid.UUID]) -> None:
    """Winners first, then reserves: asking for reserves never changes who the winners are."""
    everyone = draw.recompute(seed, entry_ids, len(entry_ids))
    assert draw.recompute(seed, entry_ids, 1) == everyone[:1]


def test_a_known_seed_gives_a_known_result() -> None:
    """A frozen vector: changing the algorithm must change its name, not this answer."""
    entry_ids = [uuid.UUID(int=n) for n in range(1, 11)]
    picks = draw.recompute("00" * 31 + "2a", entry_ids, 3)
    assert [entry_id.int for entry_id in picks] == KNOWN_PICKS
    assert draw.entries_hash(entry_ids) == KNOWN_HASH


def test_every_candidate_is_equally_likely_to_win() -> None:
    entry_ids = [uuid.UUID(int=n) for n in range(4)]
    firsts = Counter(
        draw.recompute(hashlib.sha256(str(n).encode()).hexdigest(), entry_ids, 1)[0]
        for n in range(4000)
    )
    assert set(firsts) == set(entry_ids)
    # 4000 draws over 4 candidates: 1000 each, standard deviation about 27.
    assert all(850 < wins < 1150 for wins in firsts.values()), firsts


def test_fresh_seeds_are_32_random_bytes() -> None:
    first, second = draw.new_seed(), draw.new_seed()
    assert len(bytes.fromhex(first)) == 32
    assert first != second


@pytest.mark.parametrize("seed", ["", "ab" * 31, "zz" * 32])
def test_a_malformed_seed_is_refused(seed: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - fromhex and the length check say the same
        draw.recompute(seed, [uuid.uuid4()], 1)


def test_duplicate_candidates_are_refused() -> None:
    entry_id = uuid.uuid4()
    with pytest.raises(ValueError, match="distinct"):
        draw.perform([entry_id, entry_id], 1)
