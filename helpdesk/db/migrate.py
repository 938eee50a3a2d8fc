"""Alembic, driven from code: the desk upgrades its own database when it opens it."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "helpdesk:migrations")
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def behind(self) -> bool:
        return set(self.current) != set(self.heads) and not self.ahead

    @property
    def ahead(self) -> bool:
        """The database carries a revision this code does not know (written by a newer desk)."""
        return bool(set(self.current) - self._known)

    _known: frozenset[str] = frozenset()


def state(engine: Engine) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config())
    known = frozenset(rev.revision for rev in script.walk_revisions())
    with engine.connect() as conn:
        current = tuple(MigrationContext.configure(conn).get_current_heads())
    return SchemaState(current=current, heads=tuple(script.get_heads()), _known=known)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
