"""The workflow worker: runs every workflow on the workflows task queue, and no activity."""

from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker
from workflows.contest.workflow import ContestClaimWorkflow
from workflows.conversations.reply import SendReplyWorkflow
from workflows.conversations.sla import ConversationSlaWorkflow
from workflows.conversations.sla_start import sla_start_consumer
from workflows.engagement.workflow import EngagementWorkflow
from workflows.lifecycle_start import lifecycle_start_consumer
from workflows.listening.alerts import CrisisEscalationWorkflow, ListeningAlertsWorkflow
from workflows.listening.polling import ListeningPollWorkflow
from workflows.listening.workflow import TrainOrganizationSentimentModel
from workflows.publishing.batch import PublishBatchWorkflow
from workflows.publishing.maintenance import PublisherMaintenanceWorkflow
from workflows.publishing.plan import PublishPlanWorkflow
from workflows.publishing.workflow import PublishPostWorkflow
from workflows.reporting.report import EngagementReportWorkflow
from workflows.reporting.workflow import PeriodicReportWorkflow
from workflows.website.polling import WebsitePollWorkflow

WORKFLOWS: list[type] = [
    EngagementWorkflow,
    ContestClaimWorkflow,
    PublishPostWorkflow,
    PublishBatchWorkflow,
    PublisherMaintenanceWorkflow,
    PublishPlanWorkflow,
    PeriodicReportWorkflow,
    EngagementReportWorkflow,
    TrainOrganizationSentimentModel,
    ListeningPollWorkflow,
    ListeningAlertsWorkflow,
    CrisisEscalationWorkflow,
    SendReplyWorkflow,
    ConversationSlaWorkflow,
    WebsitePollWorkflow,
]


async def main(settings: Settings) -> None:
    await run_worker(
        "workflows",
        settings,
        task_queues.WORKFLOWS,
        workflows=WORKFLOWS,
        effects=lambda client, js, _runtime: [
            lifecycle_start_consumer(client, js, settings),
            sla_start_consumer(client, js, settings),
        ],
    )
