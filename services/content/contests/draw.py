"""The verifiable winner draw: pure functions, so anyone holding the record can recompute it.

The seed is drawn once from ``secrets`` and recorded; everything else follows from it and from
the list of eligible entries, as ``ALGORITHM_DESCRIPTION`` says step by step.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

ALGORITHM = "hmac-sha256-fisher-yates-v1"
ALGORITHM_DESCRIPTION = """\
1. Candidates: the eligible entry ids as lowercase hyphenated UUIDs, sorted as text. \
entries_hash is the SHA-256 (hex) of those ids joined by "\\n" (UTF-8, no trailing newline).
2. Key: the recorded seed, 64 hex characters decoded to 32 bytes.
3. Random blocks: block k (k = 0, 1, 2, ...) is HMAC-SHA256(key, k as 8 bytes big-endian), \
read as a big-endian unsigned 256-bit integer x; every block is used once, in order.
4. Uniform index below m: take the next block x; while x >= 2**256 - (2**256 mod m) take the \
next one (rejection sampling, so no modulo bias); the index is x mod m.
5. Partial Fisher-Yates over n candidates: for i = 0 .. count-1, j = i + (uniform index \
below n - i); swap candidates i and j. The picks are candidates 0 .. count-1 in that order: \
the first ones are the winners, the rest the reserves in their rank order."""

SEED_BYTES = 32
_BLOCK_SPACE = 2**256


@dataclass(frozen=True)
class DrawRecord:
    seed: str
    entry_ids: list[uuid.UUID]
    entries_hash: str
    picks: list[uuid.UUID]


def new_seed() -> str:
    return secrets.token_hex(SEED_BYTES)


def canonical_order(entry_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    ordered = sorted(entry_ids, key=str)
    if len(set(ordered)) != len(ordered):
        raise ValueError("a draw's candidates must be distinct entries")
    return ordered


def entries_hash(entry_ids: Iterable[uuid.UUID]) -> str:
    text = "\n".join(str(entry_id) for entry_id in canonical_order(entry_ids))
    return hashlib.sha256(text.encode()).hexdigest()


def _key(seed: str) -> bytes:
    key = bytes.fromhex(seed)
    if len(key) != SEED_BYTES:
        raise ValueError(f"a seed is {SEED_BYTES} bytes ({2 * SEED_BYTES} hex characters)")
    return key


class _UniformIndices:
    """Step 3 and 4: unbiased indices from the HMAC block stream."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0

    def _next_block(self) -> int:
        message = self._counter.to_bytes(8, "big")
        self._counter += 1
        return int.from_bytes(hmac.digest(self._key, message, hashlib.sha256), "big")

    def below(self, bound: int) -> int:
        limit = _BLOCK_SPACE - _BLOCK_SPACE % bound
        block = self._next_block()
        while block >= limit:
            block = self._next_block()
        return block % bound


def recompute(seed: str, entry_ids: Iterable[uuid.UUID], count: int) -> list[uuid.UUID]:
    """The ``count`` entries (fewer if there are fewer candidates) the seed picks, in order."""
    candidates = canonical_order(entry_ids)
    indices = _UniformIndices(_key(seed))
    picked = min(count, len(candidates))
    for i in range(picked):
        j = i + indices.below(len(candidates) - i)
        candidates[i], candidates[j] = candidates[j], candidates[i]
    return candidates[:picked]


def perform(entry_ids: Iterable[uuid.UUID], count: int) -> DrawRecord:
    """A draw with a fresh seed, recorded with everything that verifies it."""
    seed = new_seed()
    candidates = canonical_order(entry_ids)
    return DrawRecord(
        seed=seed,
        entry_ids=candidates,
        entries_hash=entries_hash(candidates),
        picks=recompute(seed, candidates, count),
    )
