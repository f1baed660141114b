from services.content.tables import Base
from shared.db.migrations import run_service_migrations

run_service_migrations(Base.metadata)
