"""Base screens running service calls in thread workers (pattern: :mod:`screens.registry`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rich.text import Text
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from helpdesk.errors import HelpdeskError, NotFound
from helpdesk.services.context import Desk
from screens.text import lit

if TYPE_CHECKING:
    from screens.app import DeskApp

R = TypeVar("R")
ResultT = TypeVar("ResultT")

#: Handles an error itself; returns True when it did (else the app shows it).
ErrorHandler = Callable[[Exception], bool]


class Loader:
    """Mixin for screens: ``load`` runs a call off the UI thread and delivers only fresh results."""

    _generations: dict[str, int]

    @property
    def desk_app(self) -> DeskApp:
        return cast("DeskApp", cast(Screen[Any], self).app)

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
    ) -> None:
        """Run ``call`` in an exclusive thread worker named ``name``; hand its result to ``done``.

        A newer ``load`` under the same name makes older results stale: they are dropped.
        """
        screen = cast(Screen[Any], self)
        generations = self.__dict__.setdefault("_generations", {})
        generation = generations.get(name, 0) + 1
        generations[name] = generation

        def job() -> None:
            try:
                outcome: tuple[bool, Any] = (True, call())
            except Exception as exc:  # delivered to the UI thread, shown there
                outcome = (False, exc)
            if get_current_worker().is_cancelled or generations.get(name) != generation:
                return
            with contextlib.suppress(RuntimeError):  # the app closed while we were working
                screen.app.call_from_thread(deliver, outcome)

        def deliver(outcome: tuple[bool, Any]) -> None:
            if generations.get(name) != generation or not screen.is_attached:
                return
            ok, value = outcome
            if ok:
                done(value)
            elif failed is None or not failed(value):
                self.desk_app.show_error(value, reload=reload)

        screen.run_worker(job, name=name, group=name, thread=True, exclusive=True,
                          exit_on_error=False)

    def forget(self, name: str) -> None:
        """Make any pending result under ``name`` stale (e.g. the input was cleared)."""
        generations = self.__dict__.setdefault("_generations", {})
        generations[name] = generations.get(name, 0) + 1


class DeskScreen(Loader, Screen[ResultT]):
    """A full desk screen. Escape backs out to the previous one; j/k scroll its ``#detail``
    container when it has one (lists bind their own j/k, which win while they have focus)."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="desk.back"),
        Binding("j", "scroll_detail(1)", "Down", show=False, id="list.down"),
        Binding("k", "scroll_detail(-1)", "Up", show=False, id="list.up"),
    ]

    def action_back(self) -> None:
        self.dismiss()

    def action_scroll_detail(self, direction: int) -> None:
        for detail in self.query("#detail"):
            if direction > 0:
                detail.scroll_down()
            else:
                detail.scroll_up()

    def gone(self, exc: Exception) -> bool:
        """``failed=`` handler for a screen showing one record: if it does not exist (any
        more), say so and back out instead of leaving an empty screen."""
        if isinstance(exc, NotFound):
            self.notify(exc.message, title="Not found", severity="error", markup=False)
            self.dismiss()
            return True
        return False


class DeskModal(Loader, ModalScreen[ResultT]):
    """A dialog over the current screen; Escape cancels it (answers None)."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class FormModal(DeskModal[ResultT]):
    """A form dialog: each field ``#f-<name>`` has an error line ``#err-<name>`` beneath it,
    plus ``#err-form`` for errors that name no field. ``show_error`` is a ``failed=`` handler."""

    def clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.display = False

    def show_error(self, exc: Exception) -> bool:
        if not isinstance(exc, HelpdeskError):
            return False
        place = self.query(f"#err-{exc.field}") if exc.field else None
        error = place.first(Static) if place else self.query_one("#err-form", Static)
        error.update(lit(exc.message))
        error.display = True
        field = self.query(f"#f-{exc.field}") if exc.field else None
        if field:
            field.first().focus()
        return True


class KeyBar(Static):
    """One line of key hints from the screen's live bindings (keymap included).

    A light stand-in for Textual's Footer, which builds a widget per key and costs tens of
    milliseconds on every screen push — too much for a desk that opens screens all day.
    """

    DEFAULT_CSS = "KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }"

    def on_mount(self) -> None:
        self.call_after_refresh(self.refresh_keys)

    def refresh_keys(self) -> None:
        hints = Text()
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            b = active.binding
            if not b.show or not b.description or b.description in seen:
                continue
            seen.add(b.description)
            if hints:
                hints.append("  ")
            hints.append(self.app.get_key_display(b), "bold")
            hints.append(f" {b.description}")
        self.update(hints)
