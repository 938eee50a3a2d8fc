"""Reply templates (supervisors): ``T`` lists the templates in every language; Enter (or ``e``)
edits one — subject, body, transactional flag — with the placeholders listed beneath.
Unknown placeholders are refused by the service, on the form's error line."""

from __future__ import annotations

from textual.binding import Binding

from helpdesk.services import templates
from helpdesk.services.context import Desk
from helpdesk.services.templates import TemplateInfo
from screens.base import ListScreen
from screens.dialogs import Field, FormDialog, say_saved
from screens.text import cell
from screens.widgets import ListColumn, Row

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


class TemplatesScreen(ListScreen[TemplateInfo]):
    """Every template in every language; Enter (or ``e``) edits the highlighted one."""

    TITLE_LINE = "Reply templates"
    COLUMNS = TEMPLATE_COLUMNS
    KINDS = frozenset({"reply_template"})
    BINDINGS = [Binding("e", "choose", "Edit", id="templates.edit")]

    def items(self, desk: Desk) -> list[TemplateInfo]:
        return templates.list_templates(desk)

    def row(self, item: TemplateInfo) -> Row:
        return template_row(item)

    def chosen(self, item: TemplateInfo) -> None:
        self.app.push_screen(template_form(self.desk, item), say_saved(
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
