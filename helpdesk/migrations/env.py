"""Alembic environment: runs on the connection the desk hands over, or on sqlalchemy.url."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from helpdesk.db import models  # registers the tables on SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    models.declare_partial_indexes(connection.dialect.name)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


run_migrations_online()
