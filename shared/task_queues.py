"""Task queue names: workflows run on one queue, each service's activities on its own.

Use ``Settings.task_queue(name)`` to get the name with the configured prefix. Workflows receive the
prefix in their input (never from the environment), so replaying them gives the same queues.
"""

from typing import Final

WORKFLOWS: Final = "engage-workflows"
STRATEGY: Final = "engage-strategy"
CONTENT: Final = "engage-content"
PUBLISHER: Final = "engage-publisher"
LISTENING: Final = "engage-listening"
REPORTING: Final = "engage-reporting"
