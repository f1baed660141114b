"""Property tests of the gates' validators: whatever the caller, only the gate's approving roles
of the engagement's organisation decide, a rejection always needs a reason, and only the gate
that is waiting can be decided."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from shared.auth import Role
from shared.domain import Channel, InterventionMode, Phase
from workflows.engagement.messages import (
    Actor,
    ApprovalRequest,
    Decision,
    EngagementInput,
    EngagementState,
    EngagementStatus,
    Gate,
    PendingApproval,
)
from workflows.engagement.phases import GATE_APPROVERS
from workflows.engagement.validators import check_approval

ORGANIZATION = uuid.uuid4()
ENGAGEMENT = EngagementInput(
    engagement_id=uuid.uuid4(),
    organization_id=ORGANIZATION,
    mode=InterventionMode.REALIZZAZIONE,
    channels=[Channel.SANDBOX],
    starts_on=date(2027, 1, 1),
    ends_on=date(2027, 6, 30),
)


def waiting(gate: Gate, status: EngagementStatus) -> EngagementState:
    pending = PendingApproval(
        gate=gate,
        phase=Phase.ANALYSIS,
        revision=0,
        approver_roles=sorted(GATE_APPROVERS[gate]),
        requested_at=datetime(2027, 1, 2, tzinfo=UTC),
    )
    return EngagementState(status=status, phase=Phase.ANALYSIS, pending_approvals=[pending])


@given(
    roles=st.sets(st.sampled_from(Role), max_size=3),
    sees_organization=st.booleans(),
    waiting_gate=st.sampled_from(Gate),
    asked_gate=st.sampled_from(Gate),
    decision=st.sampled_from(Decision),
    reason=st.sampled_from(["", "   ", "Tone too formal"]),
    status=st.sampled_from(EngagementStatus),
)
def test_an_approval_passes_only_when_every_rule_holds(
    roles: set[Role],
    sees_organization: bool,
    waiting_gate: Gate,
    asked_gate: Gate,
    decision: Decision,
    reason: str,
    status: EngagementStatus,
) -> None:
    actor = Actor(
        subject="someone",
        roles=sorted(roles),
        organizations=[ORGANIZATION] if sees_organization else [uuid.uuid4()],
    )
    request = ApprovalRequest(actor=actor, gate=asked_gate, decision=decision, reason=reason)
    state = waiting(waiting_gate, status)
    expected = (
        "not-found"
        if not sees_organization
        else "forbidden"
        if not roles & GATE_APPROVERS[asked_gate]
        else "validation-error"
        if decision is Decision.REJECT and not request.reason
        else "conflict"
        if status is not EngagementStatus.RUNNING or asked_gate is not waiting_gate
        else None
    )
    if expected is None:
        assert check_approval(ENGAGEMENT, state, request).gate is asked_gate
    else:
        with pytest.raises(ApplicationError) as refused:
            check_approval(ENGAGEMENT, state, request)
        assert refused.value.type == expected
