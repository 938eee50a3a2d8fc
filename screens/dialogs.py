"""Small dialogs shared by the desk: conflict/reload and the help screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from screens.text import lit


class ConflictDialog(ModalScreen[bool]):
    """Someone else changed the record: answer True to reload it, False to keep looking."""

    BINDINGS = [
        Binding("escape", "answer(False)", "Keep", id="dialog.cancel"),
        Binding("enter,r", "answer(True)", "Reload", id="dialog.reload"),
    ]

    def __init__(self, message: str) -> None:
        super().__init__(classes="dialog")
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-box"):
            yield Static("Changed by someone else", classes="dialog-title")
            yield Static(lit(self.message))
            yield Static("Reload to see the latest version; your unsaved change is not applied.")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Reload (r)", id="reload", variant="primary")
                yield Button("Keep (Esc)", id="keep")

    def on_mount(self) -> None:
        self.query_one("#reload", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "reload")

    def action_answer(self, reload: bool) -> None:
        self.dismiss(reload)


class HelpScreen(ModalScreen[None]):
    """Every binding active on the screen beneath, as currently mapped (keymap included)."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__(classes="dialog")
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("Keys  (Esc closes; remap by id in the config file's [keymap])",
                         classes="dialog-title", markup=False)
            with VerticalScroll():
                for key, description, binding_id in self.rows:
                    yield Static(lit(f"{key:>14}  {description:<28} {binding_id}"),
                                 classes="help-row")

    def action_close(self) -> None:
        self.dismiss(None)
