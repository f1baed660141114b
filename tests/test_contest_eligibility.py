"""Who may enter a contest: dates, keyword, age statement, region, and one entry per user."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.content.contests.domain import EntryMechanism, RejectionReason
from services.content.contests.eligibility import (
    Candidate,
    ContestTerms,
    entrant_key,
    first_breach,
    mentions_keyword,
)
from services.content.contests.regions import parse_region, region_allowed
from shared.domain import Channel

STARTS = datetime(2027, 6, 1, tzinfo=UTC)
TERMS = ContestTerms(
    channels=frozenset({Channel.INSTAGRAM, Channel.FACEBOOK}),
    starts_at=STARTS,
    ends_at=STARTS + timedelta(days=30),
    mechanism=EntryMechanism.HASHTAG,
    keyword="#QuerciaEstate",
    minimum_age=18,
    allowed_regions=("IT-52", "IT-55"),
)
ELIGIBLE = Candidate(
    platform=Channel.INSTAGRAM,
    text="La mia estate in Umbria #querciaestate",
    entered_at=STARTS + timedelta(days=2),
    declared_age=34,
    region="IT-55",
)


def test_an_entry_meeting_every_rule_is_eligible() -> None:
    assert first_breach(TERMS, ELIGIBLE) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"platform": Channel.X}, RejectionReason.PLATFORM_NOT_IN_CONTEST),
        ({"entered_at": STARTS - timedelta(seconds=1)}, RejectionReason.OUTSIDE_CONTEST_PERIOD),
        ({"entered_at": STARTS + timedelta(days=31)}, RejectionReason.OUTSIDE_CONTEST_PERIOD),
        ({"text": "La mia estate #querciaestate2027"}, RejectionReason.KEYWORD_MISSING),
        ({"declared_age": None}, RejectionReason.AGE_STATEMENT_MISSING),
        ({"declared_age": 17}, RejectionReason.UNDER_MINIMUM_AGE),
        ({"region": None}, RejectionReason.REGION_MISSING),
        ({"region": "IT-25"}, RejectionReason.REGION_NOT_ALLOWED),
    ],
)
def test_each_broken_rule_is_named(change: dict[str, object], reason: RejectionReason) -> None:
    assert first_breach(TERMS, replace(ELIGIBLE, **change)) is reason  # type: ignore[arg-type]


def test_without_age_or_region_rules_no_statement_is_needed() -> None:
    open_terms = replace(TERMS, minimum_age=None, allowed_regions=())
    assert first_breach(open_terms, replace(ELIGIBLE, declared_age=None, region=None)) is None


def test_a_country_covers_its_regions() -> None:
    assert region_allowed("IT-25", ["IT"])
    assert not region_allowed("IT", ["IT-25"])
    assert not region_allowed("ITA-1", ["IT"])


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Lombardia", "IT-25"),
        ("lombardy", "IT-25"),
        ("Valle d'Aosta", "IT-23"),
        ("VALLE D AOSTA", "IT-23"),
        ("Emilia Romagna", "IT-45"),
        ("it-52", "IT-52"),
        ("FR", "FR"),
        ("Atlantide", None),
    ],
)
def test_regions_are_read_as_iso_codes(written: str, code: str | None) -> None:
    assert parse_region(written) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#QUERCIAESTATE!", True),
        ("(#querciaestate)", True),
        ("querciaestate without the hash", False),
        ("#querciaestatesale", False),
        ("##querciaestate", False),
        ("x#querciaestate", False),
    ],
)
def test_a_hashtag_counts_only_as_a_whole_tag(text: str, expected: bool) -> None:
    assert mentions_keyword(text, EntryMechanism.HASHTAG, "QuerciaEstate") is expected


def test_a_comment_keyword_may_span_words_and_spaces() -> None:
    mechanism = EntryMechanism.COMMENT_KEYWORD
    assert mentions_keyword("Io VOGLIO   vincere!", mechanism, "voglio vincere")
    assert not mentions_keyword("voglio stravincere", mechanism, "voglio vincere")


words = st.text(st.characters(categories=["L", "Nd"]), min_size=1, max_size=20)


@given(before=words, tag=words, after=words)
def test_a_hashtag_between_spaces_is_always_found(before: str, tag: str, after: str) -> None:
    text = f"{before} #{tag} {after}"
    assert mentions_keyword(text, EntryMechanism.HASHTAG, tag)


@given(handle=st.from_regex(r"[A-Za-z0-9._]{1,30}", fullmatch=True))
def test_handles_differing_in_case_and_at_sign_are_one_entrant(handle: str) -> None:
    """Platforms' handles are letters, digits, dots and underscores, in any case."""
    assert entrant_key(f"  @{handle.upper()} ") == entrant_key(handle.lower())


def test_full_width_handles_are_their_plain_form() -> None:
    # Full-width forms (U+FF20 and up) sit 0xFEE0 above their ASCII letters.
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in "@Mario.Rossi")
    assert entrant_key(full_width) == "mario.rossi"
