"""Who may move a content item through review, and where each move leads.

draft → in_review (an agency writer submits) → approved (the agency approves; when the item needs
client approval, a client approver must approve too, in either order) → scheduled → published (the
publisher, through activities). A reviewer may reject an item in review with a comment; editing a
rejected item reopens it as a draft.
"""

from __future__ import annotations

from enum import StrEnum

from services.content.contracts import ReviewAction, ReviewState
from shared.auth import Role
from shared.errors import ConflictError

EDITABLE = frozenset({ReviewState.DRAFT, ReviewState.REJECTED})

# Moves the system makes: (action, from, to).
SYSTEM_MOVES = {
    ReviewAction.SCHEDULE: (ReviewState.APPROVED, ReviewState.SCHEDULED),
    ReviewAction.PUBLISH: (ReviewState.SCHEDULED, ReviewState.PUBLISHED),
}

AGENCY_APPROVERS = frozenset({Role.ADMIN, Role.MANAGER})


class ApprovalSide(StrEnum):
    AGENCY = "agency"
    CLIENT = "client"


def require_state(current: str, allowed: frozenset[ReviewState], doing: str) -> None:
    if current not in allowed:
        raise ConflictError(
            f"cannot {doing} an item that is {current}",
            current_state=current,
            allowed_states=sorted(allowed),
        )


def require_editable(current: str) -> None:
    require_state(current, EDITABLE, "edit")


def approval_sides(roles: frozenset[Role], client_approval_required: bool) -> set[ApprovalSide]:
    """The approvals ``roles`` (the caller's, in the item's organisation) stand for on an item."""
    sides = set()
    if roles & AGENCY_APPROVERS:
        sides.add(ApprovalSide.AGENCY)
    if client_approval_required and Role.CLIENT_APPROVER in roles:
        sides.add(ApprovalSide.CLIENT)
    if not sides:
        raise ConflictError(
            "this item does not need a client's approval; the agency approves it",
            client_approval_required=client_approval_required,
        )
    return sides


def is_fully_approved(
    agency_approved_by: str | None, client_approved_by: str | None, client_approval_required: bool
) -> bool:
    return agency_approved_by is not None and (
        client_approved_by is not None or not client_approval_required
    )
