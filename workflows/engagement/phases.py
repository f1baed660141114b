"""The lifecycle's shape: phases in order, the gate closing each, who approves it, and the
deliverables each phase records (DOMAIN.md, "The engagement lifecycle")."""

from __future__ import annotations

from datetime import timedelta

from shared.auth import Role
from shared.domain import Phase
from shared.permissions import allowed_roles
from workflows.engagement.messages import Gate, LifecycleTiming

PHASES: tuple[Phase, ...] = tuple(Phase)

# The gate a phase waits for before it completes. ``go_live`` closes seeding: it is the
# decision to launch.
GATE_AFTER: dict[Phase, Gate] = {
    Phase.ANALYSIS: Gate.BRIEF,
    Phase.DESIGN: Gate.STRATEGY,
    Phase.SETUP: Gate.EDITORIAL_PLAN,
    Phase.SEEDING: Gate.GO_LIVE,
}

# The brief and the strategy are the client's to sign off (as their deliverables are); the
# editorial plan and the go-live are the agency's quality gates.
GATE_APPROVERS: dict[Gate, frozenset[Role]] = {
    Gate.BRIEF: frozenset({Role.CLIENT_APPROVER}),
    Gate.STRATEGY: frozenset({Role.CLIENT_APPROVER}),
    Gate.EDITORIAL_PLAN: frozenset({Role.ADMIN, Role.MANAGER}),
    Gate.GO_LIVE: frozenset({Role.ADMIN, Role.MANAGER}),
}

# Strategy deliverables a phase records, by the name the engagement shows -> deliverable kind.
STRATEGY_DELIVERABLES: dict[Phase, dict[str, str]] = {
    Phase.ANALYSIS: {
        "state_of_the_art": "analysis",
        "channel_mix": "channel_mix",
        "brief": "brief",
    },
    Phase.DESIGN: {
        "objectives": "objectives",
        "channel_for_objective_matrix": "objectives",
        "editorial_rules": "editorial_rules",
        "graphic_line": "graphic_line",
    },
}

# Roles that steer the engagement: pause, resume, cancel; overdue tasks escalate to them. The
# permission matrix says who may; the workflow checks it again on the actor's roles in the
# engagement's organisation.
CONTROL_ROLES = allowed_roles("pauseEngagement")
ESCALATION_ROLE = Role.MANAGER
# The client or a manager may ask for an ad-hoc intervention once the engagement is live.
INTERVENTION_ROLES = allowed_roles("requestIntervention")


def next_phase(phase: Phase) -> Phase | None:
    index = PHASES.index(phase)
    return PHASES[index + 1] if index + 1 < len(PHASES) else None


def hold(phase: Phase, timing: LifecycleTiming) -> timedelta:
    """How long a phase runs before its gate is asked (or it completes, for launch)."""
    days = {Phase.SEEDING: timing.seeding_days, Phase.LAUNCH: timing.launch_days}
    return timing.real(days.get(phase, 0.0))
