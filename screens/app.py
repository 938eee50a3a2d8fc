"""The desk application: shell, global keys, command palette, themes and error display.

``run_desk(desk)`` is what ``helpdesk`` (no command) calls. Screens plug in through
:mod:`screens.registry`; database work follows the worker pattern described there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widgets import Input, TextArea

from helpdesk import uistate
from helpdesk.domain import Role
from helpdesk.errors import Conflict, HelpdeskError
from helpdesk.services import agents, cases, customers
from helpdesk.services.changes import Change, ChangeFeed, Watcher
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import AgentInfo, CaseDetail, CustomerDetail, IdentityInfo
from screens import registry
from screens.base import DeskChanged, DeskModal, DeskScreen, Loader, RecordScreen
from screens.case import CaseScreen, new_case_form
from screens.customer import CustomerScreen, customer_form
from screens.dialogs import ConflictDialog, HelpScreen
from screens.lookup import LookupScreen
from screens.main import QUEUES, MainScreen

log = logging.getLogger(__name__)


class DeskCommands(Provider):
    """The desk's own palette entries: queues, lookup, open case by number, new case, theme,
    plus every registered :class:`~screens.registry.DeskCommand`."""

    def _entries(self) -> list[tuple[str, str, object]]:
        app = self.app
        assert isinstance(app, DeskApp)
        entries: list[tuple[str, str, object]] = [
            (f"Go to queue: {spec.label.strip()}", "Show this queue",
             partial(app.go_to_queue, spec.key))
            for spec in QUEUES
        ]
        entries += [
            ("Find customer", "Look up a customer as you type (/)", app.action_lookup),
            ("New customer", "Create a customer record", app.action_new_customer),
            ("New case", "Open a case without a customer yet", app.action_new_case),
            ("Switch theme", "Pick one of Textual's built-in themes", app.action_change_theme),
            ("Help: keys", "Every key on this screen (? / F1)", app.action_help),
        ]
        entries += [
            (c.title, c.help, partial(app.action_run_command, c.id))
            for c in registry.visible(registry.COMMANDS, app.is_supervisor)
        ]
        return entries

    async def discover(self) -> Hits:
        for title, help_text, command in self._entries():
            yield DiscoveryHit(title, command, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, DeskApp)
        number = query.strip().lstrip("#")
        if number.isdigit():
            yield Hit(1.0, f"Open case #{number}", partial(app.open_case, int(number)),
                      help="Open the case with this number")
        matcher = self.matcher(query)
        for title, help_text, command in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)  # type: ignore[arg-type]


class DeskApp(App[None]):
    """The privacy support desk."""

    TITLE = "helpdesk"
    CSS_PATH = "desk.tcss"
    COMMANDS = App.COMMANDS | {DeskCommands}
    BINDINGS = [
        Binding("slash", "lookup", "Find", id="desk.lookup"),
        Binding("question_mark,f1", "help", "Help", id="desk.help"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, id="desk.theme"),
        # priority: tables bind Home themselves; fields and dialogs keep it (check_action)
        Binding("home", "home", "Main screen", show=False, id="desk.home", priority=True),
        Binding("ctrl+q", "quit", "Quit", id="desk.quit", priority=True),
    ]

    #: Who is at the desk and where (the header line); loaded by the main screen.
    identity: var[IdentityInfo | None] = var(None)

    #: Seconds between checks for changes made elsewhere (SQLite; PostgreSQL is told at once).
    WATCH_INTERVAL = 1.0
    #: Keys typed while a desk screen opens wait for it (its focus) at most this long.
    OPENING_WAIT = 1.0

    def __init__(self, desk: Desk, *, state_file: Path | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.state_file = state_file or uistate.state_path()
        self.me: AgentInfo | None = None
        self.broken_extensions = registry.discover()
        self.feed = ChangeFeed(desk.db)
        self.watcher = Watcher(self.feed, self._changes_elsewhere, interval=self.WATCH_INTERVAL)
        self.ui_loop: asyncio.AbstractEventLoop | None = None
        #: Record screens kept installed for reuse (see _open).
        self._kept: dict[type[RecordScreen], RecordScreen] = {}
        self.ui_context = contextvars.Context()
        #: A desk screen pushed but not yet on top, since when, and the keys typed meanwhile.
        self._opening: Screen[Any] | None = None
        self._opening_since = 0.0
        self._held: list[events.Key] = []
        state = uistate.load_state(self.state_file)
        wanted = state.get("theme") or desk.settings.theme
        if wanted in self.available_themes:
            self.theme = wanted

    @property
    def is_supervisor(self) -> bool:
        return self.me is not None and self.me.role is Role.SUPERVISOR

    def on_mount(self) -> None:
        if self.desk.settings.keymap:
            self.set_keymap(self.desk.settings.keymap)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.broken_extensions:
            self.notify(f"Could not load: {', '.join(self.broken_extensions)} (see the log)",
                        severity="warning", markup=False)
        self.push_screen(MainScreen())
        self.ui_loop = asyncio.get_running_loop()
        self.ui_context = contextvars.copy_context()  # the watcher's calls run as the app's
        self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.stop()
        gc.unfreeze()  # what started with the desk can go with it (see started)

    def started(self) -> None:
        """The desk is up, its first rows on screen. What exists now (modules, the database
        engine, the main screen) lives as long as the app: frozen out of the cycle
        collector's sight, its full passes no longer walk it. Those passes took 100-200 ms
        on a 1M-customer desk, a stall in whichever key they happened to follow."""
        gc.freeze()

    # --- keys typed faster than the desk answers -------------------------------------------
    #
    # Textual hands a key to the focused widget and runs a binding only once the key has
    # bubbled back up, so keys typed right after one that opens a screen or moves the focus
    # reached the old widget first: "/" and a name typed at once found nothing, j typed after
    # Down in the lookup went into the search text. Here a bound key is acted on as it
    # arrives (text typed into a field stays the field's), and keys typed while a desk
    # screen opens wait until it is on top with its focus.

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._opening is not None:
                if time.monotonic() - self._opening_since < self.OPENING_WAIT:
                    self._held.append(event)
                    return
                self._opening = None  # it never came up: stop waiting for it
            if self._held:
                self._held.append(event)
                await self._release_keys()
                return
            if await self._act_on(event):
                return
        await super().on_event(event)

    async def _act_on(self, key: events.Key) -> bool:
        """Run the binding of ``key`` now, as Textual would after it bubbled up; False when
        the key is for the focused widget (text typed into a field, anything in a text area,
        or no binding of that key)."""
        focused = self.focused
        if isinstance(focused, TextArea) or (isinstance(focused, Input) and key.is_printable):
            return False
        active = self.screen.active_bindings.get(key.key)
        if active is None or not active.enabled:
            return False
        return await self.run_action(active.binding.action, active.node)

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, (DeskScreen, DeskModal)):
            self._opening, self._opening_since = screen, time.monotonic()
        return super().push_screen(screen, *args, **kwargs)

    def screen_ready(self, screen: Screen[Any]) -> None:
        """``screen`` is on top: the keys typed while it opened go to it now, in order."""
        if screen is self._opening:
            self._opening = None
            self.call_later(self._release_keys)

    async def _release_keys(self) -> None:
        held, self._held = self._held, []
        for index, key in enumerate(held):
            if self._opening is not None:  # that key opened another screen: the rest wait
                self._held = held[index:] + self._held
                return
            if not await self._act_on(key):
                await super().on_event(key)

    # --- changes -----------------------------------------------------------------------------

    def read_changes(self) -> list[Change]:
        """What changed since the last look (call from a worker thread, after a write)."""
        return self.feed.read()

    def _changes_elsewhere(self, changes: list[Change]) -> None:  # the watcher's thread
        # Handed over without waiting for the UI, so the watcher never blocks on a closing app.
        if self.ui_loop is not None:
            with contextlib.suppress(RuntimeError):  # the event loop has closed
                self.ui_loop.call_soon_threadsafe(self.publish_changes, changes,
                                                  context=self.ui_context)

    def publish_changes(self, changes: list[Change]) -> None:
        """Tell every open screen; each decides whether it shows any of it."""
        for change in changes:
            for screen in self.screen_stack:
                screen.post_message(DeskChanged.from_change(change))

    def _remember_theme(self, theme: Theme) -> None:
        try:
            uistate.save_state({"theme": theme.name}, self.state_file)
        except OSError as exc:
            self.notify(f"could not remember the theme: {exc.strerror}", severity="warning",
                        markup=False)

    def identity_loaded(self, who: IdentityInfo) -> None:
        self.me = who.agent
        self.identity = who  # the header line of every screen shows it
        self.sub_title = f"{who.agent.display_name} ({who.agent.role.value})"
        for screen in self.screen_stack:  # supervisor-only keys appear or stay hidden
            screen.refresh_bindings()

    def load_identity(self) -> IdentityInfo:
        return agents.identity(self.desk)

    # --- errors ----------------------------------------------------------------------------

    def show_error(self, exc: Exception, *, reload: Callable[[], None] | None = None) -> None:
        """A service error as a readable notice; a conflict offers to reload."""
        if isinstance(exc, Conflict) and reload is not None:
            def answered(again: bool | None) -> None:
                if again:
                    reload()

            self.push_screen(ConflictDialog(exc.message), answered)
            return
        if isinstance(exc, HelpdeskError):
            self.notify(exc.message, title=exc.label.capitalize(), severity="error",
                        markup=False, timeout=8)
            return
        # Not a service error: say what kind, never its text (it may quote personal data).
        log.error("unexpected %s in a desk worker", type(exc).__name__)
        self.notify(f"Unexpected error ({type(exc).__name__}); the desk is still usable.",
                    title="Error", severity="error", markup=False, timeout=8)

    # --- global actions ----------------------------------------------------------------------

    def action_lookup(self) -> None:
        if isinstance(self.screen, LookupScreen):
            self.screen.focus_search()
        else:
            self.push_screen(LookupScreen())

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = type(self.screen).__name__.removesuffix("Screen") or "this screen"
        sections: dict[str, list[tuple[str, str, str]]] = {
            f"This screen ({screen})": [], "Lists": [], "Everywhere in the desk": [],
            "Textual's own keys": [],
        }
        titles = list(sections)
        commands = {c.id for c in registry.COMMANDS}
        for key, active in self.screen.active_bindings.items():
            b = active.binding
            if b.action in {"help", "command_palette"} or (not b.description and not b.id):
                continue
            if b.id is None:
                title = titles[3]
            elif b.id.startswith("list."):
                title = titles[1]
            elif b.id.startswith("desk.") or b.id in commands:
                title = titles[2]
            else:
                title = titles[0]
            sections[title].append((self.get_key_display(b) or key, b.description or b.action,
                                    b.id or ""))
        sections[titles[2]] += [("?  F1", "This help", "desk.help"),
                                (self.get_key_display(Binding("ctrl+p", "")),
                                 "Command palette", "")]
        self.push_screen(HelpScreen([(title, sorted(set(rows), key=lambda r: r[1].lower()))
                                     for title, rows in sections.items()]))

    def action_new_customer(self, prefill: dict[str, str] | None = None) -> None:
        def created(detail: CustomerDetail | None) -> None:
            if detail is not None:
                self.open_customer(detail.id)

        self.push_screen(customer_form(self.desk, prefill=prefill), created)

    def action_new_case(self, customer_id: int | None = None) -> None:
        def created(detail: CaseDetail | None) -> None:
            if detail is not None:
                self.push_screen(CaseScreen(detail.case.id))

        self.push_screen(new_case_form(self.desk, customer_id), created)

    def action_run_command(self, command_id: str) -> None:
        command = registry.command(command_id)
        if command is not None and self.check_action("run_command", (command_id,)):
            if command.home_first:
                self.action_home()
            command.open(self)

    def action_home(self) -> None:
        """Back to the main screen, closing every screen above it."""
        while len(self.screen_stack) > 2 and not isinstance(self.screen, MainScreen):
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Supervisor-only commands are hidden from agents (the services refuse them too)."""
        if action == "run_command":
            command = registry.command(str(parameters[0]))
            return command is not None and (self.is_supervisor or not command.supervisor_only)
        if action == "home":  # not from a dialog, nor while typing (Home moves the cursor)
            return not (isinstance(self.screen, (MainScreen, ModalScreen))
                        or isinstance(self.focused, (Input, TextArea)))
        return True

    def open_case(self, case_id: int) -> None:
        desk = self.desk
        self._open(CaseScreen, case_id, lambda: cases.get(desk, case_id))

    def open_customer(self, customer_id: int) -> None:
        desk = self.desk
        self._open(CustomerScreen, customer_id, lambda: customers.get(desk, customer_id))

    def _open(self, kind: type[RecordScreen], record_id: int, load: Callable[[], Any]) -> None:
        """Load a record, then show it on a screen of ``kind``.

        The screen is pushed once its content is there (one layout and paint, not a "loading"
        frame first while the worker competes with it for the interpreter), and it is the same
        screen each time when it is free: kept installed, it only swaps its content, which
        saves most of what building a screen costs.
        """
        here = self.screen
        if not isinstance(here, Loader):
            self.push_screen(kind(record_id))
            return

        def loaded(detail: Any) -> None:
            kept = self._kept.get(kind)
            if kept is None or kept in self.screen_stack or not kept.is_mounted:
                if kept is None:
                    kept = self._kept[kind] = kind(record_id, detail)
                    self.install_screen(kept, name=f"kept:{kind.__name__}")
                else:  # busy (stacked below): a one-off screen
                    kept = kind(record_id, detail)
            else:
                kept.present(record_id, detail)
            self.push_screen(kept)

        here.load("open", load, loaded)

    def go_to_queue(self, key: str) -> None:
        self.action_home()
        if isinstance(self.screen, MainScreen):
            self.screen.select_queue(key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Our provider covers theme and help; keep Textual's others (quit, screenshot, keys...).
        for command in super().get_system_commands(screen):
            if command.title not in {"Theme"}:
                yield command


def run_desk(desk: Desk) -> int | None:
    """Open the desk on ``desk`` until the person quits."""
    DeskApp(desk).run()
    return None


__all__ = ["DeskApp", "run_desk"]
