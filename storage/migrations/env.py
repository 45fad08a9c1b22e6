import warnings

from alembic import context
from sqlalchemy.exc import SAWarning
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import make_engine

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=SQLModel.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLite's batch migrations reflect the tables they copy, and SQLAlchemy cannot reflect
            # person's index on lower(userid) (0011): it says so on every fresh database, on the
            # demo's first screen too. No batch migration copies person, so the index is never lost
            # (tests/test_userid_case.py finds it in the query plan of a migrated database).
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index",
                                    SAWarning)
            context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
