"""The periodic report's ``workflow.patched`` ids. Each names a change of behaviour; runs recorded
before it replay without it (committed histories of both sides: tests/histories/)."""

# Runs recorded before the report took the reporting service's KPIs for the cycle's window
# summed the period from the publisher's tables (``publisher.engagement_period_summary``).
REPORTING_KPIS_PATCH = "periodic-report-from-reporting-kpis"
