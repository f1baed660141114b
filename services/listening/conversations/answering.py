"""Who answers a conversation, and who reviews the answer: THE rule of the intervention modes,
one table (``ANSWERING``) read by one function (``may_answer``).

- ``realizzazione``: the agency (admin, manager, editor) answers; nobody reviews.
- ``affiancamento``: the agency and the client's staff (client_approver) answer; a complaint
  answered by the client's staff waits for an agency role's approval before it is sent.
- ``formazione``: the client's staff answer; the agency reviews a sample after sending (one
  reply in ``SAMPLE_EVERY``, flagged ``needs_review`` on its conversation).

A ``client_viewer`` reads the inbox and answers nothing, in every mode. Reviewing (approving a
reply that waits) is the agency's, in every mode."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.listening.conversations.triage import Category
from shared.auth import AGENCY_ROLES, Role
from shared.domain import InterventionMode


class Side(StrEnum):
    AGENCY = "agency"
    CLIENT = "client"


class Review(StrEnum):
    # Sent at once.
    NONE = "none"
    # Held as ``awaiting_review`` until an agency role approves it.
    BEFORE_SENDING = "before_sending"
    # Sent at once; the conversation is flagged for the agency to review afterwards.
    SAMPLE = "sample"


@dataclass(frozen=True)
class ModeRule:
    answered_by: frozenset[Side]
    # What a client's reply goes through (an agency reply is never held).
    client_review: Review
    # Only these categories get ``client_review``; the others are sent at once.
    reviewed_categories: frozenset[Category] | None
    says: str


ANSWERING: dict[InterventionMode, ModeRule] = {
    InterventionMode.REALIZZAZIONE: ModeRule(
        answered_by=frozenset({Side.AGENCY}),
        client_review=Review.NONE,
        reviewed_categories=None,
        says="in realizzazione the agency answers the inbox",
    ),
    InterventionMode.AFFIANCAMENTO: ModeRule(
        answered_by=frozenset({Side.AGENCY, Side.CLIENT}),
        client_review=Review.BEFORE_SENDING,
        reviewed_categories=frozenset({Category.COMPLAINT}),
        says="in affiancamento the agency and the client's staff answer; the agency reviews "
        "the client's answers to complaints",
    ),
    InterventionMode.FORMAZIONE: ModeRule(
        answered_by=frozenset({Side.CLIENT}),
        client_review=Review.SAMPLE,
        reviewed_categories=None,
        says="in formazione the client's staff answer; the agency reviews a sample",
    ),
}
# In formazione, one reply in this many (chosen by its id, so the choice is reproducible).
SAMPLE_EVERY = 5


@dataclass(frozen=True)
class AnswerDecision:
    allowed: bool
    review: Review
    reason: str


def side_of(roles: frozenset[Role]) -> Side | None:
    """The agency if any role is the agency's; the client's staff if it approves; else None."""
    if roles & AGENCY_ROLES:
        return Side.AGENCY
    if Role.CLIENT_APPROVER in roles:
        return Side.CLIENT
    return None


def in_review_sample(reply_id: uuid.UUID) -> bool:
    return reply_id.int % SAMPLE_EVERY == 0


def may_answer(
    mode: InterventionMode, roles: frozenset[Role], category: Category, reply_id: uuid.UUID
) -> AnswerDecision:
    """Whether a caller with ``roles`` may answer a conversation of ``category`` in ``mode``,
    and what review the reply goes through; the reason says the rule either way."""
    rule = ANSWERING[mode]
    side = side_of(roles)
    if side is None:
        return AnswerDecision(False, Review.NONE, "a client viewer reads the inbox only")
    if side not in rule.answered_by:
        return AnswerDecision(False, Review.NONE, rule.says)
    if side is Side.AGENCY:
        return AnswerDecision(True, Review.NONE, rule.says)
    review = rule.client_review
    if rule.reviewed_categories is not None and category not in rule.reviewed_categories:
        review = Review.NONE
    if review is Review.SAMPLE and not in_review_sample(reply_id):
        review = Review.NONE
    return AnswerDecision(True, review, rule.says)


def may_review(roles: frozenset[Role]) -> bool:
    """Approving a reply that waits for review is the agency's, in every mode."""
    return side_of(roles) is Side.AGENCY
