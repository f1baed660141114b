"""What must hold after the faults, read from the platform's own stores and the sandbox.

- every outbox row of every service is on the stream exactly once (event ids; the stream's
  sequence has no gap);
- every durable consumer recorded each event of its subject once (``processed_events``), none
  left pending, none dead-lettered;
- the sandbox holds each publication's post and each reply once, and nothing else;
- every comment and mention the sandbox has up to a listening source's cursor is stored as a
  mention;
- every engagement, post, plan and reply workflow completed, and no workflow failed.

Each check returns a ``Check``: its figures and whether the invariant held.
"""

from chaos.checks.events import (
    StreamEvent,
    check_consumers,
    check_outbox,
    read_stream,
    settle_consumers,
    settle_outboxes,
    subject_matches,
)
from chaos.checks.result import Check
from chaos.checks.sandbox import Sandbox, check_mentions, check_posts_and_replies
from chaos.checks.workflows import check_workflows

__all__ = [
    "Check",
    "Sandbox",
    "StreamEvent",
    "check_consumers",
    "check_mentions",
    "check_outbox",
    "check_posts_and_replies",
    "check_workflows",
    "read_stream",
    "settle_consumers",
    "settle_outboxes",
    "subject_matches",
]
