"""Storage: SQLModel tables, engine setup, migrations and customer search."""
