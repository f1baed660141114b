"""Whether an entry is eligible under a contest's rules: pure functions, no database.

Duplicates are not judged here: they depend on the entries already accepted, which the service
checks with a unique index (one accepted entry per entrant, platform and contest).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from services.content.contests.domain import EntryMechanism, RejectionReason
from services.content.contests.regions import region_allowed
from shared.domain import Channel


@dataclass(frozen=True)
class ContestTerms:
    channels: frozenset[Channel]
    starts_at: datetime
    ends_at: datetime
    mechanism: EntryMechanism
    keyword: str
    minimum_age: int | None
    allowed_regions: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    platform: Channel
    text: str
    entered_at: datetime
    declared_age: int | None
    region: str | None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def entrant_key(handle: str) -> str:
    """One key per user on a platform: ``@Mario.Rossi`` and ``mario.rossi`` are the same user."""
    return _fold(handle).strip().lstrip("@").strip()


def normalise_keyword(mechanism: EntryMechanism, keyword: str) -> str:
    """Hashtags are stored with their ``#``; keywords with their inner spaces collapsed."""
    words = " ".join(keyword.split())
    if mechanism is EntryMechanism.HASHTAG:
        return "#" + words.lstrip("#")
    return words


def mentions_keyword(text: str, mechanism: EntryMechanism, keyword: str) -> bool:
    """The hashtag or keyword appears as a whole token, whatever its case."""
    words = [re.escape(word) for word in _fold(normalise_keyword(mechanism, keyword)).split()]
    # A hashtag must not be the tail of a longer one (#summer in #summersale, or ##summer).
    before = r"(?<![\w#])" if mechanism is EntryMechanism.HASHTAG else r"(?<!\w)"
    pattern = before + r"\s+".join(words) + r"(?!\w)"
    return re.search(pattern, _fold(text)) is not None


def first_breach(terms: ContestTerms, candidate: Candidate) -> RejectionReason | None:
    """The first rule the candidate breaks, or None when it is eligible."""
    if candidate.platform not in terms.channels:
        return RejectionReason.PLATFORM_NOT_IN_CONTEST
    if not terms.starts_at <= candidate.entered_at <= terms.ends_at:
        return RejectionReason.OUTSIDE_CONTEST_PERIOD
    if not mentions_keyword(candidate.text, terms.mechanism, terms.keyword):
        return RejectionReason.KEYWORD_MISSING
    if terms.minimum_age is not None:
        if candidate.declared_age is None:
            return RejectionReason.AGE_STATEMENT_MISSING
        if candidate.declared_age < terms.minimum_age:
            return RejectionReason.UNDER_MINIMUM_AGE
    if terms.allowed_regions:
        if candidate.region is None:
            return RejectionReason.REGION_MISSING
        if not region_allowed(candidate.region, terms.allowed_regions):
            return RejectionReason.REGION_NOT_ALLOWED
    return None
