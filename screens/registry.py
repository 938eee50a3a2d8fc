"""Extension points of the desk, and the pattern every screen follows to load data.

Plugging a screen in (no edit to ``screens/app.py`` needed)
-----------------------------------------------------------
Create a module ``screens/<area>.py`` and, at import time, register what it offers::

    from screens.registry import CustomerAction, DeskCommand, register

    def _open(app: DeskApp) -> None:
        app.push_screen(IntakeScreen())

    register(DeskCommand(
        id="intake.open",             # binding id: remap with keymap = {"intake.open" = "f7"}
        title="Intake",               # palette title and footer/help description
        help="Review unassigned incoming mail",
        key="i",                      # None: palette only
        open=_open,
        supervisor_only=False,        # True: hidden from agents (the service still enforces roles)
    ))
    register(CustomerAction(id="privacy.erase", title="Erase", help="...", key="x",
                            run=lambda app, customer: ..., supervisor_only=True))

The app imports every module of the ``screens`` package when it starts
(:func:`discover`), so a new module is picked up by existing there. ``DeskCommand`` keys become
app-wide bindings and palette entries; ``CustomerAction`` / ``CaseAction`` keys are bound on the
customer profile / case view and receive the detail read model currently shown. Keys must not
clash with the desk's own (see the help screen, ``?``); use letters for list-like screens and
ctrl/F-keys for anything reachable while a form field has focus.

Loading data: the worker pattern
--------------------------------
Database work never runs on the UI thread. Screens derive from
:class:`screens.base.DeskScreen` (or ``DeskModal``) and call::

    self.load("customer", lambda: customers.get(self.app.desk, cid), self._show,
              reload=self.refresh_data)

``load`` runs the call in ``run_worker(..., thread=True, exclusive=True, group=name,
exit_on_error=False)`` — the same as decorating a method with ``@work(thread=True,
exclusive=True, exit_on_error=False)`` — and posts the result back with
``app.call_from_thread``. Each call under one ``name`` gets a new generation number; a result
whose generation is no longer the newest (the user typed on, picked another queue, left the
screen) is dropped, so the latest request always wins. Service errors become a readable
notification; a :class:`~helpdesk.errors.Conflict` offers a reload when ``reload`` is given;
pass ``failed=`` to handle an error yourself (e.g. show ``Invalid.field`` under a form field) —
return True when handled. Only plain read models cross threads, never ORM objects.

Untrusted text (names, subjects, bodies, e-mails) is rendered with :mod:`screens.text`
(``lit`` for Content, ``cell`` for DataTable cells); never build markup from it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpdesk.services.readmodels import CaseDetail, CustomerDetail
    from screens.app import DeskApp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeskCommand:
    """A desk-wide command: a binding (when ``key`` is set) and a command-palette entry."""

    id: str
    title: str
    help: str
    key: str | None
    open: Callable[[DeskApp], None]
    supervisor_only: bool = False


@dataclass(frozen=True)
class CustomerAction:
    """An action on the customer profile; ``run`` gets the profile currently shown."""

    id: str
    title: str
    help: str
    key: str | None
    run: Callable[[DeskApp, CustomerDetail], None]
    supervisor_only: bool = False


@dataclass(frozen=True)
class CaseAction:
    """An action on the case view; ``run`` gets the case detail currently shown."""

    id: str
    title: str
    help: str
    key: str | None
    run: Callable[[DeskApp, CaseDetail], None]
    supervisor_only: bool = False


COMMANDS: list[DeskCommand] = []
CUSTOMER_ACTIONS: list[CustomerAction] = []
CASE_ACTIONS: list[CaseAction] = []

Extension = DeskCommand | CustomerAction | CaseAction

#: Modules of this package that are part of the shell and register nothing.
_SHELL = {"app", "registry", "base", "text"}


def register(*items: Extension) -> None:
    """Add commands/actions; registering the same id again replaces the earlier entry."""
    for item in items:
        target: list[Any]
        if isinstance(item, DeskCommand):
            target = COMMANDS
        elif isinstance(item, CustomerAction):
            target = CUSTOMER_ACTIONS
        elif isinstance(item, CaseAction):
            target = CASE_ACTIONS
        else:
            raise TypeError(f"cannot register {type(item).__name__}")
        target[:] = [existing for existing in target if existing.id != item.id]
        target.append(item)


def discover() -> list[str]:
    """Import every module of the ``screens`` package so their ``register`` calls run.

    A module that fails to import is skipped (and named in the result) so one broken extension
    cannot keep the desk from opening.
    """
    import screens

    failed = []
    for info in pkgutil.iter_modules(screens.__path__):
        if info.name not in _SHELL and not info.name.startswith("_"):
            try:
                importlib.import_module(f"screens.{info.name}")
            except Exception:
                log.exception("screen module %s failed to load", info.name)
                failed.append(info.name)
    return failed


def visible(items: list[Any], supervisor: bool) -> list[Any]:
    """The entries this agent may see (role rules are still enforced by the services)."""
    return [i for i in items if supervisor or not i.supervisor_only]
