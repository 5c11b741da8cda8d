"""Alembic environment: run by ``bulkguard.store.db.migrate`` on the connection it passes."""

from __future__ import annotations

from alembic import context

from bulkguard.store.db import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("bulkguard migrations run through bulkguard.store.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
