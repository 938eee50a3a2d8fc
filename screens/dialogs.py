"""The desk's dialogs: one form dialog for every "ask the agent" step, the conflict question,
the help screen and a read-only text viewer. Their CSS is in ``desk.tcss``, once.

A form is a list of :class:`Field` s and a ``submit`` function that turns the values into the
dialog's typed answer — usually by calling a service — in a thread worker::

    dialog = FormDialog(
        "Internal note", [Field.area("body", "Note (never sent)")],
        lambda v: cases.add_note(desk, case_id=7, body=v["body"], expected_version=3),
    )
    app.push_screen(dialog, on_saved)   # on_saved gets the CaseDetail, or None if cancelled

Ctrl+S (or F2) saves; Enter in a one-line field moves to the next field and saves from the
last; Escape cancels. An :class:`~helpdesk.errors.HelpdeskError` raised by ``submit`` is shown
on the dialog's one error line and focuses the field it names (``exc.field``); the dialog stays
open. A plain Conflict goes to the conflict question, which offers ``reload``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from textual import events, on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from helpdesk.errors import Conflict, HelpdeskError
from screens.base import DeskModal
from screens.text import lit
from screens.widgets import Picker, focus_now

T = TypeVar("T")
FieldKind = Literal["text", "area", "check", "choice"]
#: What a form's fields hold when it is saved: text for text and area fields (one-line text
#: stripped), bool for checks, the chosen value (or None) for choices.
FormValues = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a :class:`FormDialog`; its widget has the id ``f-<name>``."""

    name: str
    label: str
    kind: FieldKind = "text"
    value: Any = None
    placeholder: str = ""
    #: (label, value) pairs of a choice field.
    choices: tuple[tuple[str, Any], ...] = ()
    #: Lines of text an area shows (it scrolls beyond).
    lines: int = 4

    @classmethod
    def text(cls, name: str, label: str, value: str = "", placeholder: str = "") -> Field:
        return cls(name, label, "text", value, placeholder)

    @classmethod
    def area(cls, name: str, label: str, value: str = "", lines: int = 4) -> Field:
        return cls(name, label, "area", value, lines=lines)

    @classmethod
    def check(cls, name: str, label: str, value: bool = False) -> Field:
        return cls(name, label, "check", value)

    @classmethod
    def choice(cls, name: str, label: str, choices: Sequence[tuple[str, Any]],
               value: Any = None) -> Field:
        return cls(name, label, "choice", value, choices=tuple(choices))


class FormDialog(DeskModal[T]):
    """A titled form whose values ``submit`` turns into the dialog's answer (off the UI
    thread). ``name`` identifies the form (tests, keymaps); ``wide`` gives long text room."""

    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, title: str, fields: Sequence[Field], submit: Callable[[FormValues], T],
                 *, hint: str = "", name: str | None = None, wide: bool = False,
                 reload: Callable[[], None] | None = None) -> None:
        super().__init__(name=name, classes="-wide" if wide else None)
        self.title_text = title
        self.fields = tuple(fields)
        self.submit = submit
        self.hint = hint
        self.reload = reload
        self.initial: FormValues = {}

    # --- building --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-box"):
            yield Static(lit(self.title_text), classes="form-title")
            yield from self.compose_top()
            for field in self.fields:
                if field.kind != "check":
                    yield Static(lit(field.label), classes="field-label")
                yield self._widget(field)
            if self.hint:
                yield Static(lit(self.hint), classes="form-hint")
            yield Static("", id="form-error")
            yield from self.compose_bottom()
            yield Static("ctrl+s save · Esc cancel", classes="form-keys")

    def compose_top(self) -> ComposeResult:
        """Widgets between the title and the fields (override)."""
        yield from ()

    def compose_bottom(self) -> ComposeResult:
        """Widgets below the error line (override; e.g. a preview)."""
        yield from ()

    def _widget(self, field: Field) -> Widget:
        wid = f"f-{field.name}"
        if field.kind == "area":
            area = TextArea(field.value or "", id=wid)
            area.styles.height = field.lines + 2  # and its border
            return area
        if field.kind == "check":
            return Checkbox(field.label, bool(field.value), id=wid, compact=True)
        if field.kind == "choice":
            picker = Picker(*_options(field.choices), id=wid)
            values = [v for _, v in field.choices]
            if field.value in values:
                picker.highlighted = values.index(field.value)
            elif field.choices:
                picker.highlighted = 0
            return picker
        return Input(field.value or "", placeholder=field.placeholder, id=wid, compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error", Static).display = False
        self.initial = self.values()
        focusable = [w for w in self.inputs() if w.focusable]
        if focusable:
            focus_now(focusable[0])

    def inputs(self) -> list[Widget]:
        return [self.query_one(f"#f-{f.name}") for f in self.fields]

    def set_choices(self, name: str, choices: Sequence[tuple[str, Any]],
                    value: Any = None) -> None:
        """Replace the choices of a choice field (e.g. once they have loaded)."""
        index = next(i for i, f in enumerate(self.fields) if f.name == name)
        field = Field.choice(name, self.fields[index].label, choices, value)
        self.fields = (*self.fields[:index], field, *self.fields[index + 1:])
        picker = self.query_one(f"#f-{name}", Picker)
        picker.clear_options()
        picker.add_options(_options(field.choices))
        values = [v for _, v in choices]
        if choices:
            picker.highlighted = values.index(value) if value in values else 0
        if name in self.initial:  # choices arriving are not something the agent chose
            self.initial[name] = self.value(name)

    # --- values ----------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        field = next(f for f in self.fields if f.name == name)
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, TextArea):
            return widget.text
        if isinstance(widget, Checkbox):
            return widget.value
        if isinstance(widget, OptionList):
            index = widget.highlighted
            return field.choices[index][1] if index is not None and field.choices else None
        assert isinstance(widget, Input)
        return widget.value.strip()

    def values(self) -> FormValues:
        return {f.name: self.value(f.name) for f in self.fields}

    @property
    def dirty(self) -> bool:
        """Whether anything was typed or chosen since the dialog opened."""
        return self.is_mounted and self.values() != self.initial

    # --- saving ----------------------------------------------------------------------------

    def action_cancel(self) -> None:
        """Escape: close; with something typed or chosen, ask before throwing it away."""
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(AskDialog("Discard what you typed?", self.title_text,
                                       yes="Discard", no="Keep editing", yes_key="d"),
                             answered)

    def action_save(self) -> None:
        self.show_error(None)
        values, submit = self.values(), self.submit
        self.change("form-save", lambda: submit(values), self.dismiss, failed=self._failed)

    def show_error(self, message: str | None, field: str | None = None) -> None:
        """Show ``message`` on the error line (None clears it) and focus ``field``."""
        line = self.query_one("#form-error", Static)
        line.update(lit(message or ""))
        line.display = bool(message)
        for widget in self.inputs():
            widget.set_class(widget.id == f"f-{field}", "-invalid")
        if field and self.query(f"#f-{field}"):
            focus_now(self.query_one(f"#f-{field}"))

    def _failed(self, exc: Exception) -> bool:
        if isinstance(exc, Conflict) and not exc.field:
            if self.reload is None:
                return False
            reload = self.reload

            def again() -> None:
                self.dismiss(None)
                reload()

            self.desk_app.show_error(exc, reload=again)
            return True
        if isinstance(exc, HelpdeskError):
            self.show_error(exc.message, exc.field)
            return True
        return False

    @on(Input.Submitted)
    @on(OptionList.OptionSelected)
    def _next_field(self, event: Input.Submitted | OptionList.OptionSelected) -> None:
        widgets = [w for w in self.inputs() if w.focusable]
        source = event.input if isinstance(event, Input.Submitted) else event.option_list
        if source not in widgets:
            return
        event.stop()
        later = widgets[widgets.index(source) + 1:]
        if later:
            focus_now(later[0])
        else:
            self.action_save()


class SearchDialog(FormDialog[T]):
    """Pick one record by typing part of it: a ``find`` text field whose every change runs
    ``search`` off the UI thread and lists what it finds in the ``pick`` choice field (Enter or
    Down moves there, Enter saves). ``submit`` gets the picked value as ``values["pick"]``."""

    # priority: acted on before the keys typed after it reach the text field
    BINDINGS = [Binding("down", "to_matches", "Matches", show=False, id="form.matches",
                        priority=True)]

    def __init__(self, title: str, search: Callable[[str], Sequence[tuple[str, Any]]],
                 submit: Callable[[FormValues], T], *, label: str, hint: str = "",
                 name: str | None = None) -> None:
        super().__init__(title, [Field.text("find", label), Field.choice("pick", "Matches", [])],
                         submit, hint=hint, name=name)
        self.search = search

    @on(Input.Changed, "#f-find")
    def _find(self, event: Input.Changed) -> None:
        text, search = event.value.strip(), self.search
        if not text:
            self.forget("search")
            self.set_choices("pick", [])
            return
        self.load("search", lambda: search(text), lambda found: self.set_choices("pick", found))

    def action_to_matches(self) -> None:
        if self.focused is not self.query_one("#f-find"):
            raise SkipAction  # Down in the matches moves down them
        focus_now(self.query_one("#f-pick"))


def _options(choices: Sequence[tuple[str, Any]]) -> list[Option]:
    """Options of a choice field; an option's id is its value's text (for str/int values)."""
    return [Option(lit(label), id=str(value) if isinstance(value, str | int) else str(i))
            for i, (label, value) in enumerate(choices)]


def say_saved(app: App[Any], message: Callable[[T], str],
              title: str | None = None) -> Callable[[T | None], None]:
    """A dialog's callback that says what was saved (nothing when it was cancelled)."""

    def done(result: T | None) -> None:
        if result is not None:
            app.notify(message(result), title=title or "", markup=False)

    return done


class AskDialog(ModalScreen[bool]):
    """A yes/no question: ``yes_key`` (or Enter) answers True, ``n`` or Escape False."""

    BINDINGS = [
        Binding("escape,n", "answer(False)", "No", id="dialog.cancel"),
        Binding("enter", "answer(True)", "Yes", id="dialog.confirm"),
    ]

    def __init__(self, title: str, message: str, *, yes: str, no: str, yes_key: str = "y",
                 note: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text, self.message, self.note = title, message, note
        self.yes, self.no, self.yes_key = yes, no, yes_key

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-box"):
            yield Static(lit(self.title_text), classes="dialog-title")
            yield Static(lit(self.message))
            if self.note:
                yield Static(lit(self.note))
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} ({self.yes_key})", id="yes", variant="primary")
                yield Button(f"{self.no} (Esc)", id="no")

    def on_mount(self) -> None:
        focus_now(self.query_one("#yes", Button))

    def on_key(self, event: events.Key) -> None:
        if event.key == self.yes_key:
            event.stop()
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ConflictDialog(AskDialog):
    """Someone else changed the record: answer True to reload it, False to keep looking."""

    def __init__(self, message: str) -> None:
        super().__init__("Changed by someone else", message, yes="Reload", no="Keep",
                         yes_key="r", note="Reload to see the latest version; your unsaved "
                                           "change is not applied.")


class TextDialog(DeskModal[None]):
    """Read-only text loaded off the UI thread (e.g. the policy part governing a case)."""

    BINDINGS = [Binding("escape,q", "cancel", "Close", id="dialog.close")]

    def __init__(self, title: str, call: Callable[[], str], *, name: str | None = None) -> None:
        super().__init__(name=name, classes="dialog")
        self.title_text = title
        self.call = call

    def compose(self) -> ComposeResult:
        with Vertical(id="text-box"):
            yield Static(lit(self.title_text), classes="dialog-title")
            with VerticalScroll():
                yield Static("loading…", id="dialog-text")
            yield Static("Esc close", classes="form-keys")

    def on_mount(self) -> None:
        self.load("text", self.call,
                  lambda text: self.query_one("#dialog-text", Static).update(lit(text)))


class HelpScreen(ModalScreen[None]):
    """Every binding active on the screen beneath, as currently mapped (keymap included), in
    sections: the desk's keys first (this screen's, the lists', the desk-wide ones), Textual's
    own after."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, sections: Sequence[tuple[str, list[tuple[str, str, str]]]]) -> None:
        super().__init__(classes="dialog")
        self.sections = [(title, rows) for title, rows in sections if rows]

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(key, description, binding id) of every key listed, in order."""
        return [row for _, rows in self.sections for row in rows]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("Keys  (Esc closes; remap by id in the config file's [keymap])",
                         classes="dialog-title", markup=False)
            with VerticalScroll():
                for title, rows in self.sections:
                    yield Static(lit(title), classes="help-section")
                    for key, description, binding_id in rows:
                        yield Static(lit(f"{key:>14}  {description:<28} {binding_id}"),
                                     classes="help-row")

    def action_close(self) -> None:
        self.dismiss(None)
