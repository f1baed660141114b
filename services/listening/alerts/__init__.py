"""Listening alerts: rules per engagement, alerts raised from hourly buckets of mentions, and the
crisis escalation each alert starts (``workflows/listening/alerts.py``)."""
