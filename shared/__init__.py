"""The common kernel: settings, database, events, auth, errors, telemetry and health.

Every service uses exactly one version of each of these.
"""
