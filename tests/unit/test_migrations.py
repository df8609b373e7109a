"""The migrations are self-contained (frozen copies, no live code), yet what they build is
exactly the schema the code declares, on both back-ends (the `alembic check` comparison)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import sigarchive.db.metadata_models  # the metadata repository's tables, too
from sigarchive.db.engine import Database
from sigarchive.db.models import Base

VERSIONS = Path(sigarchive.db.metadata_models.__file__).parent / "migrations" / "versions"


def test_migrated_schema_equals_the_declared_tables(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_import_no_live_code() -> None:
    for migration in sorted(VERSIONS.glob("*.py")):
        imports = [
            line
            for line in migration.read_text().splitlines()
            if line.startswith(("import sigarchive", "from sigarchive"))
        ]
        assert imports == [], migration.name
