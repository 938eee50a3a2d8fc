"""Alembic migrations of the desk's schema (run by helpdesk.db.migrate).

A new table with an integer ``id`` is created with ``sqlite_autoincrement=True``: ids are never
reused (revision 0007; tests/test_ids_never_reused.py checks every table).
"""

#: The head revision(s) this code writes. Opening a database at exactly these skips loading
#: Alembic; tests/test_foundation_migrations.py keeps this equal to the revision files' heads.
HEADS = frozenset({"0017"})
