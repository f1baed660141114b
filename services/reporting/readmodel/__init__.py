"""The reporting service's read model: what other services' events said, kept in reporting's own
tables (``services.reporting.models``) by the kernel's consumers (``subscriptions.py``).

Every handler is an upsert keyed by the fact's natural id and commutes with the others of its
table (events may arrive twice, or out of order), so the model is the same whatever the order it
was fed in, and can be made again from the stream (``rebuild.py``)."""
