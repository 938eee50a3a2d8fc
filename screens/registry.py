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
a new module is picked up by existing there. The desk's own areas are declared at the end of
this module instead, their entry points named with :func:`later` and :func:`pushes`: the desk
knows their keys without importing them, and a screen module loads the first time one of its
keys is used (importing them all at start was a noticeable part of the time to the first
screen). ``DeskCommand`` keys are declared on every desk screen (and the palette lists them);
``CaseAction`` / ``CustomerAction`` (or any ``ScreenAction(slot=...)``) keys are declared on
the screens whose ``SLOT`` matches and receive what the screen shows (its
``extension_subject()``). Keys must not clash with the screen's own (the screen's win; see the
help screen, ``?``); use letters for list-like screens and ctrl/F-keys for anything reachable
while a form field has focus.

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
#: What the extensions declared here call (:func:`later`): module -> names in it. The modules
#: are imported on first use.
_declared: dict[str, set[str]] = {}

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


def later(module: str, name: str) -> Callable[..., Any]:
    """``screens.<module>.<name>``, called with the caller's arguments, the module imported by
    the first call (an extension's ``open`` or ``run`` declared without importing its module)."""
    _declared.setdefault(module, set()).add(name)

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(f"screens.{module}"), name)(*args)

    return call


def entry_points() -> list[tuple[str, str]]:
    """Every ``(module, name)`` an extension declared here calls, in ``screens``."""
    return sorted((module, name) for module, names in _declared.items() for name in names)


def pushes(module: str, screen: str) -> Callable[[DeskApp], None]:
    """A ``DeskCommand.open`` showing a new ``screens.<module>.<screen>()`` (see :func:`later`)."""
    make = later(module, screen)
    return lambda app: app.push_screen(make())


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
    """Import every module of the ``screens`` package so their ``register`` calls run, but for
    the ones whose extensions are declared here (they load on first use).

    A module that fails to import is skipped (and named in the result) so one broken extension
    cannot keep the desk from opening.
    """
    import screens

    failed = []
    for info in pkgutil.iter_modules(screens.__path__):
        if info.name not in _SHELL and info.name not in _declared and not info.name.startswith("_"):
            try:
                importlib.import_module(f"screens.{info.name}")
            except Exception:
                log.exception("screen module %s failed to load", info.name)
                failed.append(info.name)
    return failed


def visible(items: list[Any], supervisor: bool) -> list[Any]:
    """The entries this agent may see (role rules are still enforced by the services)."""
    return [i for i in items if supervisor or not i.supervisor_only]


# The desk's own areas, in the order of their keys in the key bar.
register(
    CaseAction(id="case.correct", title="Correct customer", key="e",
               help="Correct the customer's record under this case (old → new is kept)",
               run=later("customer", "correct_from_case")),
    DeskCommand(id="audit.open", title="Audit trail", key="A",
                help="Who viewed, exported or changed what; verify the chain",
                open=pushes("audit", "AuditScreen"), supervisor_only=True),
    CustomerAction(id="audit.customer", title="Who viewed this customer", key="V",
                   help="The audit trail of this customer and their cases",
                   run=later("audit", "customer_trail"), supervisor_only=True),
    CaseAction(id="replies.reply", title="Reply", key="m",
               help="Write a reply from a template as a .eml file", run=later("replies", "reply")),
    CaseAction(id="questions.answer", title="Answer from policy", key="q",
               help="Answer the question by topic, quoting the policy, as a .eml file",
               run=later("replies", "answer")),
    CaseAction(id="disputes.advance", title="Dispute stage", key="t",
               help="Move a dispute to its next stage", run=later("disputes", "advance_stage")),
    CaseAction(id="disputes.open", title="Customer disputes this", key="y",
               help="Open a dispute about this case", run=later("disputes", "open_dispute")),
    CaseAction(id="cases.escalate", title="Escalate / de-escalate", key="E",
               help="Flag for a supervisor (supervisors clear it)",
               run=later("disputes", "escalate_or_clear")),
    CaseAction(id="cases.override", title="Override deadline", key="O",
               help="Record a justified deadline override",
               run=later("disputes", "override_deadline"), supervisor_only=True),
    CustomerAction(id="customers.merge", title="Merge", key="M",
                   help="Merge another record of the same person into this one",
                   run=later("duplicates", "merge_dialog")),
    DeskCommand(id="customers.duplicates", title="Duplicate customers", key="D",
                help="Customer records that look like the same person",
                open=pushes("duplicates", "DuplicatesScreen")),
    DeskCommand(id="inbox.open", title="Inbox", key="N",
                help="Notices: cases given to you, reminders, customers' answers, warnings, "
                     "escalations",
                open=pushes("inbox", "InboxScreen")),
    DeskCommand(id="intake.open", title="Intake", key="I",
                help="Import mail; unmatched and quarantined items",
                open=pushes("intake", "IntakeScreen")),
    CustomerAction(id="privacy.opt_out", title="Opt out", key="o",
                   help="Stop marketing to this customer now (transactional mail continues)",
                   run=later("privacy", "opt_out")),
    CustomerAction(id="privacy.erase", title="Erase", key="x",
                   help="Erase this customer under their deletion request",
                   run=later("privacy", "erase")),
    CustomerAction(id="privacy.disclosure", title="Disclosure", key="d",
                   help="Record who received this customer's data",
                   run=later("privacy", "disclosure_dialog")),
    CustomerAction(id="privacy.export", title="Export data", key="P",
                   help="Write everything held about this customer to a file",
                   run=later("privacy", "export_dialog")),
    CustomerAction(id="privacy.under_13", title="Under 13", key="U",
                   help="Flag a child under 13 and start the parental request",
                   run=later("privacy", "under_13_dialog")),
    CaseAction(id="privacy.case_opt_out", title="Opt out", key="o",
               help="Opt the case's customer out of marketing, citing this case",
               run=later("privacy", "case_opt_out")),
    CaseAction(id="privacy.case_erase", title="Erase", key="x",
               help="Erase the case's customer under this request (a deletion request: "
                    "letter, notices, closed)", run=later("privacy", "case_erase")),
    CaseAction(id="privacy.policy", title="Policy part", key="p",
               help="The part of the privacy policy that governs this kind of case",
               run=later("privacy", "policy_part")),
    CustomerAction(id="records.email_add", title="Add e-mail", key="a",
                   help="Add an e-mail address (kept in the record's history)",
                   run=later("records", "add_email")),
    CustomerAction(id="records.email_change", title="E-mail: primary/remove", key="E",
                   help="Make an address the primary one, or remove it",
                   run=later("records", "change_email")),
    CustomerAction(id="records.product_add", title="Purchase/registration", key="b",
                   help="Record a purchase or a product registration",
                   run=later("records", "add_product")),
    DeskCommand(id="answers.topic", title="Policy answer", key="Q",
                help="A canned answer by topic, quoting the policy in force",
                open=later("records", "topic_answer"), home_first=False),
    CaseAction(id="records.attachment_save", title="Save attachment", key="f",
               help="Save an attachment to a private file (never opened by the desk)",
               run=later("records", "save_attachment")),
    CaseAction(id="records.forward", title="Forward", key="F",
               help="Forward a message of this case as a new .eml (recorded, audited)",
               run=later("records", "forward_message")),
    DeskCommand(id="reports.open", title="Reports", key="R",
                help="Volume, on-time rate, breaches, days to close; chart per month or week",
                open=pushes("reports", "ReportsScreen")),
    DeskCommand(id="templates.open", title="Reply templates", key="T",
                help="List and edit the reply templates",
                open=pushes("templates", "TemplatesScreen"), supervisor_only=True),
    DeskCommand(id="workload.open", title="Workload", key="W",
                help="Open work per agent; reassign cases",
                open=pushes("workload", "WorkloadScreen"), supervisor_only=True),
)
