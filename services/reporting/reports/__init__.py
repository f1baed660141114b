"""Reports: an engagement's KPIs over a period, rendered as HTML and PDF, approved by a manager
and delivered to the client (``EngagementReportWorkflow`` drives each one)."""
