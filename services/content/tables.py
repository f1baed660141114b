"""Every table of the content service, for Alembic and the schema test.

Each feature's models module is imported here so that its tables join ``Base.metadata``.
"""

import services.content.contests.models
import services.content.plan.models
import services.content.website.models  # noqa: F401
from services.content.models import Base

__all__ = ["Base"]
