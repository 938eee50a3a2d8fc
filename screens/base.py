"""Base screens, the worker pattern and the change message (guide: ``docs/screens-kit.md``).

* :class:`Loader` runs service calls in thread workers and delivers only the newest result per
  name; :meth:`Loader.change` does the same for a call that writes, then reads the change feed
  so every screen hears about the write through :class:`DeskChanged`.
* :class:`DeskChanged` is the one way a screen learns that data changed — made here, in another
  desk or in the CLI: the app forwards it to every open screen and each decides whether it shows
  any of the ids.
* :class:`DeskScreen` is a full screen: Escape backs out, the key bar is added, the extension
  keys registered for its ``SLOT`` are declared by :func:`screens.registry.build`, and
  supervisor-only keys are hidden from agents with ``check_action``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import partialmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from helpdesk.errors import NotFound
from helpdesk.services.changes import Change
from helpdesk.services.context import Desk
from screens import registry

if TYPE_CHECKING:
    from screens.app import DeskApp
    from screens.widgets import ListColumn, ListTable, Row

R = TypeVar("R")
T = TypeVar("T")
ResultT = TypeVar("ResultT")

#: Handles an error itself; returns True when it did (else the app shows it).
ErrorHandler = Callable[[Exception], bool]


class DeskChanged(Message, bubble=False):
    """Rows of one ``kind`` changed: ``"case"``, ``"customer"``, ``"agent"``, ``"intake_item"``,
    ``"reply_template"`` ... (the audit trail's object types). ``ids`` names them; an empty set
    means "some, unknown which" (treat as all)."""

    def __init__(self, kind: str, ids: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.kind = kind
        self.ids = ids

    def touches(self, kind: str, ids: Iterable[int | None] = ()) -> bool:
        """Whether this change is about ``kind`` and (when ids are given) any of ``ids``."""
        if kind != self.kind:
            return False
        wanted = {i for i in ids if i is not None}
        return not wanted or not self.ids or bool(self.ids & wanted)

    @classmethod
    def from_change(cls, change: Change) -> DeskChanged:
        return cls(change.kind, change.ids)


class Loader:
    """Mixin for screens and widgets: ``load`` runs a call off the UI thread and delivers only
    fresh results (a newer ``load`` under the same name makes older ones stale)."""

    @property
    def desk_app(self) -> DeskApp:
        return cast("DeskApp", cast(DOMNode, self).app)

    @property
    def desk(self) -> Desk:
        return self.desk_app.desk

    def load(
        self,
        name: str,
        call: Callable[[], R],
        done: Callable[[R], None],
        *,
        reload: Callable[[], None] | None = None,
        failed: ErrorHandler | None = None,
        writes: bool = False,
    ) -> None:
        """Run ``call`` in an exclusive thread worker named ``name``; hand its result to
        ``done``. Errors go to ``failed`` (when it returns True) or to the app's error display,
        where a Conflict offers ``reload``. A call that ``writes`` (see :meth:`change`) reads
        the change feed afterwards in the same worker, so every open screen hears what
        changed (:class:`DeskChanged`)."""
        self._run(name, call, done, reload=reload, failed=failed, announce=writes)

    #: :meth:`load` for a call that writes.
    change = partialmethod(load, writes=True)

    def forget(self, name: str) -> None:
        """Make any pending result under ``name`` stale (e.g. the input was cleared)."""
        generations = self.__dict__.setdefault("_generations", {})
        generations[name] = generations.get(name, 0) + 1

    def forget_all(self) -> None:
        """Make every pending result stale."""
        for name in list(self.__dict__.get("_generations", {})):
            self.forget(name)

    def _run(
        self, name: str, call: Callable[[], R], done: Callable[[R], None], *,
        reload: Callable[[], None] | None, failed: ErrorHandler | None, announce: bool,
    ) -> None:
        node = cast(DOMNode, self)
        app = self.desk_app
        self.forget(name)
        generations: dict[str, int] = self.__dict__["_generations"]
        generation = generations[name]

        def job() -> None:
            try:
                outcome: tuple[bool, Any] = (True, call())
            except Exception as exc:  # delivered to the UI thread, shown there
                outcome = (False, exc)
            changes = app.read_changes() if announce and outcome[0] else ()
            with contextlib.suppress(RuntimeError):  # the app closed while we were working
                if changes:
                    app.call_from_thread(app.publish_changes, changes)
                if not get_current_worker().is_cancelled and generations.get(name) == generation:
                    app.call_from_thread(deliver, outcome)

        def deliver(outcome: tuple[bool, Any]) -> None:
            if generations.get(name) != generation or not node.is_attached:
                return
            ok, value = outcome
            if ok:
                done(value)
            elif failed is None or not failed(value):
                app.show_error(value, reload=reload)

        node.run_worker(job, name=name, group=name, thread=True,
                        exclusive=True, exit_on_error=False)


class DeskScreen(Loader, Screen[ResultT]):
    """A full desk screen.

    Subclasses set ``SLOT`` to receive the extension actions registered for it (``"case"``,
    ``"customer"``), return what those actions act on from :meth:`extension_subject`, and react
    to changes in :meth:`desk_changed` (called at once when the screen is on top, or when it
    comes back to the top if it was covered).
    """

    SLOT: ClassVar[str | None] = None
    #: The widget (a selector) that has the focus when the screen opens. The screen focuses it
    #: itself: Textual's auto focus did it before the first layout and then scrolled to centre
    #: it, so on a small terminal a profile or a report opened scrolled, its top out of view.
    FOCUS: ClassVar[str | None] = None
    AUTO_FOCUS = ""  # (see FOCUS)
    BINDINGS = [Binding("escape", "back", "Back", id="desk.back")]

    def __new__(cls, *args: Any, **kwargs: Any) -> DeskScreen[Any]:
        # Instances are made from the class the registry built: the same class plus the
        # extension keys registered for its slot, declared as ordinary BINDINGS.
        return super().__new__(registry.build(cls))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._missed: list[DeskChanged] = []

    def on_mount(self) -> None:
        from screens.widgets import IdentityBar, KeyBar

        if not self.query(KeyBar):
            self.mount(KeyBar())
        if not self.query(IdentityBar):
            self.mount(IdentityBar())
        if self.FOCUS:
            self.set_focus(self.query_one(self.FOCUS), scroll_visible=False)

    def action_back(self) -> None:
        self.dismiss()

    # --- changes -----------------------------------------------------------------------------

    def on_desk_changed(self, event: DeskChanged) -> None:
        if self.is_current:
            self.desk_changed(event)
        else:
            self._missed.append(event)

    def on_screen_resume(self) -> None:
        self.desk_app.screen_ready(self)
        missed, self._missed = self._missed, []
        for event in missed:
            self.desk_changed(event)
        self.refresh_bindings()

    def desk_changed(self, event: DeskChanged) -> None:
        """React to a change (override). The default shows nothing that can change."""

    # --- extension actions -------------------------------------------------------------------

    def extension_subject(self) -> Any:
        """What this screen's extension actions act on (the detail shown), None until loaded."""
        return None

    def action_extension(self, action_id: str) -> None:
        action = registry.find(self.SLOT, action_id)
        subject = self.extension_subject()
        if action is not None and subject is not None:
            action.run(self.desk_app, subject)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "extension":
            found = registry.find(self.SLOT, str(parameters[0]))
            if found is None or (found.supervisor_only and not self.desk_app.is_supervisor):
                return False
            return True if self.extension_subject() is not None else None
        return True

    def gone(self, exc: Exception) -> bool:
        """``failed=`` handler for a screen showing one record: if it does not exist (any
        more), say so and back out instead of leaving an empty screen."""
        if isinstance(exc, NotFound):
            self.notify(exc.message, title="Not found", severity="error", markup=False)
            self.dismiss()
            return True
        return False


class ListScreen(DeskScreen[None], Generic[T]):
    """A screen that is one list: a title line over a ListTable (id ``list``) filled by
    :meth:`items` in a worker, loaded again on ``r`` and whenever a change of one of ``KINDS``
    is heard (the cursor stays on its record). Enter hands the record under it to
    :meth:`chosen`. Subclasses set ``TITLE_LINE``, ``COLUMNS``, ``KINDS`` and define
    :meth:`items` (called off the UI thread: services only), :meth:`row` and :meth:`chosen`.
    """

    TITLE_LINE: ClassVar[str] = ""
    COLUMNS: ClassVar[tuple[ListColumn, ...]] = ()
    KINDS: ClassVar[frozenset[str]] = frozenset()
    FOCUS = "#list"
    BINDINGS = [Binding("r", "reload", "Reload", id="list.reload")]

    def compose(self) -> ComposeResult:
        from screens.widgets import ListTable

        yield Static(self.TITLE_LINE, classes="screen-title")
        yield ListTable(self.COLUMNS, self.row, id="list")

    @property
    def table(self) -> ListTable[T]:
        from screens.widgets import ListTable

        return self.query_one("#list", ListTable)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        desk = self.desk
        self.load("list", lambda: list(self.items(desk)), self.table.set_items)

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind in self.KINDS:
            self.action_reload()

    def on_list_table_row_selected(self, event: ListTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        item = self.table.current
        if item is not None:
            self.chosen(item)

    def items(self, desk: Desk) -> Iterable[T]:
        """What the list shows (override; runs in a worker)."""
        raise NotImplementedError

    def row(self, item: T) -> Row:
        """The row of one record (override)."""
        raise NotImplementedError

    def chosen(self, item: T) -> None:
        """Enter on a record (override)."""


class RecordScreen(DeskScreen[None]):
    """A screen showing one record (a case, a customer) that the app keeps and reuses: built
    with ``(record_id, detail)``, and later given another record with :meth:`present`."""

    def __init__(self, record_id: int, detail: Any = None) -> None:
        """``detail``, when the opener already loaded it, is shown from the first frame."""
        super().__init__()
        self.record_id = record_id
        self.detail = detail

    def on_mount(self) -> None:
        if self.detail is None:
            self.action_reload()
        else:
            self.show_detail(self.detail)

    def extension_subject(self) -> Any:
        return self.detail

    def action_reload(self) -> None:
        """Load the record and show it (override)."""
        raise NotImplementedError

    def present(self, record_id: int, detail: Any) -> None:
        """Show another record (the screen is not on the stack while this is called)."""
        self.forget_all()  # results still on their way are for the record shown before
        self.record_id = record_id
        self._missed.clear()
        self.show_detail(detail)
        for scroll in self.query("DetailScroll"):
            scroll.scroll_home(animate=False)

    def show_detail(self, detail: Any) -> None:
        """Put ``detail`` on the screen (override)."""
        raise NotImplementedError


class DeskModal(Loader, ModalScreen[ResultT]):
    """A dialog over the current screen; Escape cancels it (answers None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def on_screen_resume(self) -> None:
        self.desk_app.screen_ready(self)

    def action_cancel(self) -> None:
        self.dismiss(None)
