"""The former home of ``PublishPlanWorkflow``'s messages, now ``workflows.publishing.messages``.

Kept only while ``services/gateway/routes/plan_publishing.py`` and the engagement workflow still
import this path; delete it once they import ``workflows.publishing.messages``.
"""

from workflows.publishing.messages import (
    PLAN_STATE_QUERY,
    PLAN_WORKFLOW_NAME,
    PlanPublishingState,
    PublishPlanInput,
    plan_workflow_id,
)

__all__ = [
    "PLAN_STATE_QUERY",
    "PLAN_WORKFLOW_NAME",
    "PlanPublishingState",
    "PublishPlanInput",
    "plan_workflow_id",
]
