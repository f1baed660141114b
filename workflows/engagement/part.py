"""What every part of ``EngagementWorkflow``'s work (phase work, post-launch support,
compensation) is built on: the engagement's input, the workflow's one state object, its calls to
the services and its recorder, all shared with the workflow itself."""

from __future__ import annotations

from workflows.engagement.messages import EngagementInput, EngagementState
from workflows.engagement.recording import Recorder
from workflows.engagement.service_calls import ServiceCalls


class LifecyclePart:
    def __init__(
        self,
        engagement: EngagementInput,
        state: EngagementState,
        calls: ServiceCalls,
        recorder: Recorder,
    ) -> None:
        self._engagement = engagement
        self._state = state
        self._calls = calls
        self._recorder = recorder
