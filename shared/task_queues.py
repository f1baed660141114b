"""Task queue names: workflows run on one queue, each service's activities on its own.

Use ``Settings.task_queue(name)`` to get the name with the configured prefix.
"""

from typing import Final

WORKFLOWS: Final = "engage-workflows"
STRATEGY: Final = "engage-strategy"
CONTENT: Final = "engage-content"
PUBLISHER: Final = "engage-publisher"
LISTENING: Final = "engage-listening"
REPORTING: Final = "engage-reporting"


def sibling_queue(own_queue: str, own_name: str, target_name: str) -> str:
    """The queue named ``target_name`` under the same prefix as ``own_queue``.

    Workflows use it to address services' activity queues without reading settings, which
    would make them depend on the environment at replay time.
    """
    if not own_queue.endswith(own_name):
        raise ValueError(f"task queue {own_queue!r} does not end with {own_name!r}")
    return own_queue[: len(own_queue) - len(own_name)] + target_name
