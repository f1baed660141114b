"""The ``engage`` command: run the platform locally, serve a service, run a worker, mint dev tokens.

Lives beside the services (not inside one) because it starts all of them.
"""
