"""The lifecycle's ``workflow.patched`` ids. Each names a change of behaviour; runs recorded
before it replay without it (committed histories of both sides: tests/histories/)."""

# Cancelled runs recorded before the publisher withdrew posts only recorded the request.
WITHDRAW_POSTS_PATCH = "withdraw-posts-on-cancel"
# Runs cancelled before the listening service stopped queries only recorded the request, and
# runs completed before then left their queries alone.
STOP_LISTENING_ON_CANCEL_PATCH = "stop-listening-on-cancel"
STOP_LISTENING_ON_COMPLETION_PATCH = "stop-listening-on-completion"
# Runs recorded before the lifecycle stopped after an activity result that overtook its
# cancellation replay without that stop.
STOP_CANCELLED_LIFECYCLE_PATCH = "stop-cancelled-lifecycle-after-activity"
# Runs recorded before the lifecycle worked through the publisher (connections checked at setup,
# the plan published from seeding on, cycles collecting metrics and reporting through a child
# workflow) replay without those steps.
PUBLISHER_STEPS_PATCH = "lifecycle-publishes-through-publisher"
# A step a person took (an approval, a completed task, a pause) is recorded ahead of the work
# queued on the strategy service: that person waits to see what follows. Runs recorded before
# replay with every step at the default priority.
HUMAN_STEPS_FIRST_PATCH = "human-steps-recorded-first"
# Runs recorded before seeding switched the listening queries on by itself gave people a task
# to do it ("Switch on the listening queries").
START_LISTENING_AT_SEEDING_PATCH = "start-listening-at-seeding"
