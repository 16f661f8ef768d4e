"""Storage: SQLAlchemy 2 async models, the database engine and repositories by concept."""
