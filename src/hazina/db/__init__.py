"""Storage: SQLAlchemy models, the engine and sessions, the job queue's SQL, Alembic migrations."""
