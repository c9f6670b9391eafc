"""Alembic migrations of the engine's schema: one revision per schema change (see engine.schema)."""
