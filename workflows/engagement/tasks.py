"""Human tasks: what each phase asks of people, and who owns it in each intervention mode.

``realizzazione``: the agency does the work. ``affiancamento``: the work is shared, with a
knowledge-transfer checkpoint per phase. ``formazione``: the client's staff do the work, the
agency trains them and reviews the result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from shared.auth import AGENCY_ROLES, Role
from shared.domain import InterventionMode, Phase
from workflows.engagement.messages import PublicationFailure, Task, TaskKind, TaskOwner

OWNER_ROLES: dict[TaskOwner, frozenset[Role]] = {
    TaskOwner.AGENCY: AGENCY_ROLES,
    TaskOwner.CLIENT: frozenset({Role.CLIENT_APPROVER}),
    TaskOwner.SHARED: AGENCY_ROLES | {Role.CLIENT_APPROVER},
}

OPERATIONAL_OWNER: dict[InterventionMode, TaskOwner] = {
    InterventionMode.REALIZZAZIONE: TaskOwner.AGENCY,
    InterventionMode.AFFIANCAMENTO: TaskOwner.SHARED,
    InterventionMode.FORMAZIONE: TaskOwner.CLIENT,
}

# Seeding's switching on of the listening queries.
LISTENING_TASK = "listening"

OPERATIONAL_WORK: dict[Phase, tuple[tuple[str, str], ...]] = {
    Phase.ANALYSIS: (
        ("state-of-the-art", "Assess the state of the art: strengths, weaknesses, improvements"),
        ("assets", "Inventory the client's assets"),
        ("brief", "Build the brief"),
    ),
    Phase.DESIGN: (
        ("objectives", "Set objectives, actions and timing"),
        ("channel-matrix", "Choose which channel serves which objective"),
        ("editorial-rules", "Write the editorial rules"),
        ("graphic-line", "Define the graphic line per channel"),
    ),
    Phase.SETUP: (
        ("channels", "Connect the channel accounts"),
        ("profiles", "Dress the profiles in the graphic line"),
        ("plan", "Review the editorial plan"),
    ),
    Phase.SEEDING: (
        ("first-content", "Publish the first content"),
        ("outreach", "Reach out and build relationships"),
        # Done by the lifecycle itself in runs that know START_LISTENING_AT_SEEDING_PATCH.
        (LISTENING_TASK, "Switch on the listening queries"),
    ),
    Phase.LAUNCH: (("go-live", "Run the go-live campaign"),),
    Phase.POST_LAUNCH: (("inbox", "Answer the inbox within the agreed time"),),
}


class TaskSpec(NamedTuple):
    slug: str
    title: str
    kind: TaskKind
    owner: TaskOwner


def _mode_extras(phase: Phase, mode: InterventionMode) -> list[TaskSpec]:
    label = phase.value.replace("_", "-")
    if mode is InterventionMode.AFFIANCAMENTO:
        return [
            TaskSpec(
                "knowledge-transfer",
                f"Knowledge-transfer checkpoint: {label}",
                TaskKind.KNOWLEDGE_TRANSFER,
                TaskOwner.SHARED,
            )
        ]
    if mode is InterventionMode.FORMAZIONE:
        return [
            TaskSpec("training", f"Training session: {label}", TaskKind.TRAINING, TaskOwner.AGENCY),
            TaskSpec("review", f"Agency review: {label}", TaskKind.REVIEW, TaskOwner.AGENCY),
        ]
    return []


def phase_task_specs(phase: Phase, mode: InterventionMode) -> list[TaskSpec]:
    owner = OPERATIONAL_OWNER[mode]
    work = [
        TaskSpec(slug, title, TaskKind.OPERATIONAL, owner)
        for slug, title in OPERATIONAL_WORK[phase]
    ]
    return work + _mode_extras(phase, mode)


def build_task(
    task_id: str,
    spec: TaskSpec,
    phase: Phase,
    due_at: datetime,
    *,
    description: str = "",
    intervention_id: str | None = None,
) -> Task:
    return Task(
        id=task_id,
        title=spec.title,
        description=description,
        phase=phase,
        kind=spec.kind,
        owner=spec.owner,
        assignee_roles=sorted(OWNER_ROLES[spec.owner]),
        due_at=due_at,
        intervention_id=intervention_id,
    )


def phase_tasks(
    phase: Phase,
    revision: int,
    mode: InterventionMode,
    now: datetime,
    due_in: timedelta,
    *,
    done_by_lifecycle: frozenset[str] = frozenset(),
) -> list[Task]:
    """The phase's tasks for people; ``done_by_lifecycle``: slugs the lifecycle does itself."""
    return [
        build_task(f"{phase.value}-{revision}-{spec.slug}", spec, phase, now + due_in)
        for spec in phase_task_specs(phase, mode)
        if spec.slug not in done_by_lifecycle
    ]


def rework_task(
    phase: Phase,
    revision: int,
    mode: InterventionMode,
    comments: str,
    now: datetime,
    due_in: timedelta,
) -> Task:
    spec = TaskSpec(
        "rework", f"Rework the {phase.value} after review", TaskKind.REWORK, OPERATIONAL_OWNER[mode]
    )
    return build_task(
        f"{phase.value}-{revision}-rework", spec, phase, now + due_in, description=comments
    )


def intervention_tasks(
    intervention_id: str,
    title: str,
    description: str,
    mode: InterventionMode,
    now: datetime,
    due_in: timedelta,
) -> list[Task]:
    """The work itself, owned as the mode says; in ``formazione`` the agency reviews it."""
    specs = [TaskSpec("work", title, TaskKind.INTERVENTION, OPERATIONAL_OWNER[mode])]
    if mode is InterventionMode.FORMAZIONE:
        specs.append(
            TaskSpec("review", f"Agency review: {title}", TaskKind.REVIEW, TaskOwner.AGENCY)
        )
    return [
        build_task(
            f"{intervention_id}-{spec.slug}",
            spec,
            Phase.POST_LAUNCH,
            now + due_in,
            description=description,
            intervention_id=intervention_id,
        )
        for spec in specs
    ]


FAILURE_TITLES = {
    "auth": "Re-authorise the {channel} connection: a post could not be published",
    "content_rejected": "The {channel} platform refused a post: look at it",
}


def publication_failure_task(
    failure: PublicationFailure, phase: Phase, now: datetime, due_in: timedelta
) -> Task:
    """A post that failed for good is the agency's to look at, whatever the mode: the
    connections and the publishing are the agency's."""
    channel = failure.channel.value
    title = FAILURE_TITLES.get(failure.failure_class, "A {channel} post failed: look at it")
    spec = TaskSpec(
        "publication", title.format(channel=channel), TaskKind.OPERATIONAL, TaskOwner.AGENCY
    )
    return build_task(
        f"publication-{failure.publication_id}-failed",
        spec,
        phase,
        now + due_in,
        description=(
            f"{failure.failure_class}: {failure.detail} (publication {failure.publication_id})"
        ),
    )
