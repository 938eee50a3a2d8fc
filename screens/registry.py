"""Extension points of the desk: commands and screen actions, declared as bindings by
:func:`build` (the how-to for screens is ``docs/screens-kit.md``).

Plugging a screen in (no edit to ``screens/app.py`` needed)
-----------------------------------------------------------
Create a module ``screens/<area>.py`` and, at import time, register what it offers::

    from screens.registry import CaseAction, CustomerAction, DeskCommand, register

    register(DeskCommand(
        id="intake.open",             # binding id: remap with keymap = {"intake.open" = "f7"}
        title="Intake",               # palette title and help description
        help="Review unassigned incoming mail",
        key="I",                      # None: palette only
        open=lambda app: app.push_screen(IntakeScreen()),
        supervisor_only=False,        # True: hidden from agents (the service still enforces roles)
    ))
    register(CustomerAction(id="privacy.erase", title="Erase", help="...", key="x",
                            run=lambda app, customer: ..., supervisor_only=True))

The app imports every module of the ``screens`` package when it starts (:func:`discover`), so
a new module is picked up by existing there. ``DeskCommand`` keys are declared on every desk
screen (and the palette lists them); ``CaseAction`` / ``CustomerAction`` (or any
``ScreenAction(slot=...)``) keys are declared on the screens whose ``SLOT`` matches and receive
what the screen shows (its ``extension_subject()``). Keys must not clash with the screen's own
(the screen's win; see the help screen, ``?``); use letters for list-like screens and
ctrl/F-keys for anything reachable while a form field has focus.

Untrusted text (names, subjects, bodies, e-mails) is rendered with :mod:`screens.text`
(``lit`` for Content, ``cell`` for table cells); never build markup from it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.binding import Binding

if TYPE_CHECKING:
    from helpdesk.services.readmodels import CaseDetail, CustomerDetail
    from screens.app import DeskApp

log = logging.getLogger(__name__)
S = TypeVar("S")


@dataclass(frozen=True)
class DeskCommand:
    """A desk-wide command: a binding (when ``key`` is set) and a command-palette entry."""

    id: str
    title: str
    help: str
    key: str | None
    open: Callable[[DeskApp], None]
    supervisor_only: bool = False
    #: It opens a screen of its own: the screens above the main one are closed first, so
    #: screens do not pile up (False for a dialog that belongs to what is on screen).
    home_first: bool = True


@dataclass(frozen=True)
class ScreenAction:
    """An action on the screens of one ``slot``; ``run`` gets what the screen shows (its
    ``extension_subject()``: the case detail on the case view, the profile on the customer
    screen)."""

    id: str
    title: str
    help: str
    key: str | None
    run: Callable[[DeskApp, Any], None]
    supervisor_only: bool = False
    slot: str = ""


@dataclass(frozen=True)
class CustomerAction(ScreenAction):
    """An action on the customer profile; ``run`` gets the :class:`CustomerDetail` shown."""

    run: Callable[[DeskApp, CustomerDetail], None]  # type: ignore[assignment]
    slot: str = "customer"


@dataclass(frozen=True)
class CaseAction(ScreenAction):
    """An action on the case view; ``run`` gets the :class:`CaseDetail` shown."""

    run: Callable[[DeskApp, CaseDetail], None]  # type: ignore[assignment]
    slot: str = "case"


COMMANDS: list[DeskCommand] = []
ACTIONS: list[ScreenAction] = []

Extension = DeskCommand | ScreenAction

#: Modules of this package that are part of the shell and register nothing.
_SHELL = {"app", "registry", "base", "text", "widgets", "dialogs"}

#: Bumped by every ``register``: classes built before it are built again on next use.
_generation = 0
_built: dict[type, tuple[int, type]] = {}


def register(*items: Extension) -> None:
    """Add commands/actions; registering the same id again replaces the earlier entry."""
    global _generation
    for item in items:
        target: list[Any]
        if isinstance(item, DeskCommand):
            target = COMMANDS
        elif isinstance(item, ScreenAction):
            target = ACTIONS
        else:
            raise TypeError(f"cannot register {type(item).__name__}")
        target[:] = [existing for existing in target if existing.id != item.id]
        target.append(item)
    _generation += 1


class LazyModule:
    """A module imported when one of its names is first used (thread-safe: the import
    system's own lock guards it). Extension modules reach their services through these, so
    discovering every extension at start costs little more than reading its registrations::

        if TYPE_CHECKING:
            from helpdesk.services import intake
        else:
            intake = lazy_module("helpdesk.services.intake")
    """

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__dict__["_name"])
        self.__dict__.update(module.__dict__)  # later look-ups are plain attribute reads
        return getattr(module, attr)


def lazy_module(name: str) -> Any:
    """``name`` imported on first use (see :class:`LazyModule`)."""
    return LazyModule(name)


def find(slot: str | None, action_id: str) -> ScreenAction | None:
    """The action registered under ``action_id`` for ``slot``."""
    return next((a for a in ACTIONS if a.id == action_id and a.slot == slot), None)


def command(command_id: str) -> DeskCommand | None:
    return next((c for c in COMMANDS if c.id == command_id), None)


def _keys(binding: Binding | tuple[str, ...]) -> list[str]:
    keys = binding.key if isinstance(binding, Binding) else binding[0]
    return [k.strip() for k in keys.split(",")]


def build(cls: type[S]) -> type[S]:
    """``cls`` with the registered keys declared as its ``BINDINGS``: the actions of its
    ``SLOT`` (shown in the key bar) and the desk commands. Keys the screen binds itself win.

    A subclass of the same name, built once per registry state; :class:`~screens.base.DeskScreen`
    makes its instances from it, so a screen written as ``CaseScreen(7)`` carries the keys of
    every extension without anyone patching bindings in after the fact.
    """
    if cls.__dict__.get("_registry_built"):
        return cls
    cached = _built.get(cls)
    if cached is not None and cached[0] == _generation:
        return cast("type[S]", cached[1])
    taken = {k for base in cls.__mro__ for b in base.__dict__.get("BINDINGS", ()) for k in _keys(b)}
    bindings: list[Binding] = []
    slot = getattr(cls, "SLOT", None)
    for action in ACTIONS:
        if action.slot == slot and action.key:
            if set(_keys(Binding(action.key, ""))) & taken:
                log.warning("%s: key %s of %s is taken by the screen", cls.__name__,
                            action.key, action.id)
                continue
            bindings.append(Binding(action.key, f"extension({action.id!r})", action.title,
                                    id=action.id, tooltip=action.help))
    for cmd in COMMANDS:
        if cmd.key and not set(_keys(Binding(cmd.key, ""))) & taken:
            bindings.append(Binding(cmd.key, f"app.run_command({cmd.id!r})", cmd.title,
                                    show=False, id=cmd.id, tooltip=cmd.help))
    built = type(cls.__name__, (cls,), {
        "BINDINGS": bindings, "_registry_built": True,
        "__module__": cls.__module__, "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    })
    _built[cls] = (_generation, built)
    return cast("type[S]", built)


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
