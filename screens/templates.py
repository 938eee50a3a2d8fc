"""Reply templates (supervisors): ``T`` lists the templates in every language; Enter (or ``e``)
edits one — subject, body, transactional flag — with the placeholders listed beneath.
Unknown placeholders are refused by the service, on the form's error line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from helpdesk.services import templates
from helpdesk.services.context import Desk
from helpdesk.services.templates import TemplateInfo
from screens.base import DeskChanged, DeskScreen
from screens.dialogs import Field, FormDialog, say_saved
from screens.registry import DeskCommand, register
from screens.text import cell
from screens.widgets import ListColumn, ListTable, Row

TEMPLATE_COLUMNS = (
    ListColumn("name", "Name", 20, priority=0),
    ListColumn("language", "Lang", 4, priority=0),
    ListColumn("kind", "Kind", 12, priority=2),
    ListColumn("transactional", "Transactional", 14, priority=3),
    ListColumn("version", "Version", 7, priority=4),
    ListColumn("subject", "Subject", 20, priority=1, flex=True),
)


def template_row(t: TemplateInfo) -> Row:
    return f"{t.name}:{t.language}", (
        cell(t.name), cell(t.language), cell(t.kind.value if t.kind else "any"),
        cell("yes" if t.transactional else "no (marketing)"), cell(t.version), cell(t.subject),
    )


class TemplatesScreen(DeskScreen[None]):
    """Every template in every language; Enter edits the highlighted one."""

    AUTO_FOCUS = "#templates-table"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="templates.edit"),
        Binding("r", "reload", "Reload", id="templates.reload"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Reply templates", classes="screen-title")
        yield ListTable(TEMPLATE_COLUMNS, template_row, id="templates-table")

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        desk = self.desk
        self.load("templates", lambda: templates.list_templates(desk),
                  self.query_one(ListTable).set_items)

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind == "reply_template":
            self.action_reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_edit(self) -> None:
        chosen = self.query_one(ListTable).current
        if chosen is not None:
            self.app.push_screen(template_form(self.desk, chosen), say_saved(
                self.app, lambda t: f"Template '{t.name}' ({t.language}) saved."))


def template_form(desk: Desk, t: TemplateInfo) -> FormDialog[TemplateInfo]:
    """Edit one language of a template."""
    return FormDialog(
        f"Template {t.name} ({t.language}), version {t.version}",
        [Field.text("subject", "Subject", t.subject),
         Field.area("body", "Body", t.body, lines=14),
         Field.check("transactional", "Transactional (crucial product or service information)",
                     t.transactional)],
        lambda v: templates.update(desk, name=t.name, language=t.language, subject=v["subject"],
                                   body=v["body"], transactional=v["transactional"],
                                   expected_version=t.version),
        hint="Placeholders: " + ", ".join(f"${{{n}}} {d}" for n, d in
                                          templates.PLACEHOLDERS.items()),
        name="templates.edit", wide=True,
    )


register(DeskCommand(id="templates.open", title="Reply templates", key="T",
                     help="List and edit the reply templates",
                     open=lambda app: app.push_screen(TemplatesScreen()), supervisor_only=True))
