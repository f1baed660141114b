import services.strategy.touchpoints.models  # noqa: F401
from services.strategy.models import Base
from shared.db.migrations import run_service_migrations

run_service_migrations(Base.metadata)
