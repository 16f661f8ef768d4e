"""Storage: SQLAlchemy 2 async models, the database engine and repositories by concept."""

from storage import models, models_commune, models_help  # noqa: F401  (every table registered on the one metadata)
