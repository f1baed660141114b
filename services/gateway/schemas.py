"""Bodies the gateway adds on top of the services' own schemas."""

from __future__ import annotations

from services.strategy.schemas import EngagementOut
from workflows.engagement.messages import EngagementState


class EngagementView(EngagementOut):
    """An engagement with its live workflow state (``null`` until its workflow has started)."""

    state: EngagementState | None
