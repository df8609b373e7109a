"""Alembic environment: runs on the connection handed in by ``db.engine.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import sigarchive.db.metadata_models  # noqa: F401 - the metadata repository's tables
from sigarchive.db.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic` command line use
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
