"""The audit log: who approved, published, replied, connected a channel or rotated its keys,
when, in which organisation, and how it ended.

Kept from the events the services already emit (``entries.py``), by the reporting worker's
consumers, so it is as complete as the stream and rebuilt with the read model; read by an
organisation's managers and by admins (``api.py``)."""
