"""``engage demo``: a sample Italian client's engagement through all six phases, live.

Against a running platform (``make up``), the demo plays every person involved: it registers an
agriturismo near Gubbio as an agency manager, starts its engagement on the built-in ``sandbox``
channel with its durations compressed (the request's ``time_scale``), connects a sandbox account
(the gateway's OAuth flow) and prepares an approved editorial plan of a few posts due during
seeding and launch, follows the organisation's Server-Sent Events and answers what the lifecycle
asks of people: each gate is approved by the role it names, each task completed by its owner.
From seeding on the engagement publishes the plan, and the posts appear on the sandbox as they
fall due. The engagement listens to the sandbox account (a listening source on the connection):
the comments and mentions its simulated users write arrive as mentions, with their sentiment and
places, and the summary shows the sentiment share and the top places. Before listening starts
the demo sets the engagement's inbox hours (every day, all day, a first answer within an hour)
and a keyword alert rule on the complaints the sandbox's users write; then, as the agency's
manager, it answers the first conversation the comments open and acknowledges the alerts the
rule raises. After the engagement ends it waits a little for the reply's first response and
for an alert, and the summary says whether the comment was answered within the SLA and which
alert was acknowledged. The stream is opened before the engagement is created, so no event is
missed; a dropped connection resumes with ``Last-Event-ID``.

The package by concern: ``script`` (what the people write and set), ``run`` (what the demo saw,
its people's tokens, the time compression), ``gateway`` (the calls that set the engagement up),
``plan`` (the editorial plan and its posts), ``stream`` (the live events), ``people`` (answering
them), ``reports`` (the periodic reports), ``display`` (the live view), ``outcome`` (the closing
summary) and ``driver`` (``run_demo``).
"""

from __future__ import annotations

from engage.demo.display import Display, summary
from engage.demo.driver import _drive, run_demo
from engage.demo.gateway import (
    _expect,
    check_platform,
    connect_sandbox,
    create_client,
    listen_to_sandbox,
    read_top_places,
    start_engagement,
    watch_inbox_and_alerts,
)
from engage.demo.outcome import alerts, heard, inbox, print_outcome
from engage.demo.people import Demo
from engage.demo.plan import approved_post, plan_rules, post_times, prepare_plan
from engage.demo.run import SECONDS_PER_DAY, DemoError, DemoRun, Frame, Tokens, time_scale_for
from engage.demo.script import (
    ACKNOWLEDGE_NOTE,
    ALERT_RULE,
    ASSETS,
    CLIENT,
    INBOX_SETTINGS,
    POSTS,
    REPLY,
)
from engage.demo.stream import event_stream, sse_frames

__all__ = [
    "ACKNOWLEDGE_NOTE",
    "ALERT_RULE",
    "ASSETS",
    "CLIENT",
    "INBOX_SETTINGS",
    "POSTS",
    "REPLY",
    "SECONDS_PER_DAY",
    "Demo",
    "DemoError",
    "DemoRun",
    "Display",
    "Frame",
    "Tokens",
    "_drive",
    "_expect",
    "alerts",
    "approved_post",
    "check_platform",
    "connect_sandbox",
    "create_client",
    "event_stream",
    "heard",
    "inbox",
    "listen_to_sandbox",
    "plan_rules",
    "post_times",
    "prepare_plan",
    "print_outcome",
    "read_top_places",
    "run_demo",
    "sse_frames",
    "start_engagement",
    "summary",
    "time_scale_for",
    "watch_inbox_and_alerts",
]
