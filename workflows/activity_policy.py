"""How a workflow calls a service's activity: an attempt may take 30 seconds, and a failed one is
tried again from one second up to a minute later, for as long as the workflow waits. A refusal
by the service is final and not tried again (``shared/activity_errors.py``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

SERVICE_ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
SERVICE_ACTIVITY_TIMEOUT = timedelta(seconds=30)
