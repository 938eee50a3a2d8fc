"""Alembic migrations of the desk's schema (run by helpdesk.db.migrate)."""

#: The head revision(s) this code writes. Opening a database at exactly these skips loading
#: Alembic; tests/test_foundation_migrations.py keeps this equal to the revision files' heads.
HEADS = frozenset({"0014"})
