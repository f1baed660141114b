"""Notifications: alerts and SLA events sent to an organisation's webhooks and e-mail recipients,
each delivery recorded, tried again with backoff, and every attempt logged."""
