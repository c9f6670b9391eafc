"""Alembic's environment: run on the connection engine.schema hands over, or on
`-x url=<database URL>` when a developer runs alembic by hand."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

connection = context.config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database: alembic -x url=sqlite:///path/atonix.db ...")
    with create_engine(url).begin() as own:
        context.configure(connection=own, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
