"""The vocabulary of contests, shared by the service, its API and its activity contracts."""

from __future__ import annotations

from enum import StrEnum


class ContestStatus(StrEnum):
    """draft → open → closed → drawing → drawn → result_published."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    DRAWING = "drawing"
    DRAWN = "drawn"
    RESULT_PUBLISHED = "result_published"


class EntryMechanism(StrEnum):
    """How a user enters: a hashtag in a post, or a keyword in a comment."""

    HASHTAG = "hashtag"
    COMMENT_KEYWORD = "comment_keyword"


class EntrySource(StrEnum):
    API = "api"
    LISTENING = "listening"


class EntryStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    PLATFORM_NOT_IN_CONTEST = "platform_not_in_contest"
    OUTSIDE_CONTEST_PERIOD = "outside_contest_period"
    KEYWORD_MISSING = "keyword_missing"
    AGE_STATEMENT_MISSING = "age_statement_missing"
    UNDER_MINIMUM_AGE = "under_minimum_age"
    REGION_MISSING = "region_missing"
    REGION_NOT_ALLOWED = "region_not_allowed"
    DUPLICATE_ENTRANT = "duplicate_entrant"


class Award(StrEnum):
    """What a draw made of an entry: a winner awaiting its claim, a reserve, and what followed."""

    WINNER = "winner"
    RESERVE = "reserve"
    CLAIMED = "claimed"
    UNCLAIMED = "unclaimed"
