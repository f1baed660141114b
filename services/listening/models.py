"""Tables of the listening service (schema ``listening``)."""

from sqlalchemy.orm import DeclarativeBase

from shared.db.base import service_metadata
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "listening"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


outbox = Outbox(OutboxEvent)
