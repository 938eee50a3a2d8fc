"""Replies from the case view: ``m`` opens the reply dialog — pick a template (only those for
the case's kind), read the rendered letter, Ctrl+S writes the .eml and records it on the case,
F3 copies the letter's text to the clipboard. A template that cannot be filled for this case (no
override, no outcome) shows the reason instead of a preview, so nothing with a blank goes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static

from helpdesk.services import parsing, replies, templates
from helpdesk.services.readmodels import CaseDetail
from helpdesk.services.templates import TemplateInfo
from screens.dialogs import Field, FormDialog, FormValues, say_saved
from screens.registry import CaseAction, register
from screens.text import lit

if TYPE_CHECKING:
    from screens.app import DeskApp


def default_reply_path(case_id: int, what: str = "reply") -> Path:
    """Where a letter for the case is written unless the agent says otherwise."""
    return Path.home() / f"case-{case_id}-{what}.eml"


class ReplyDialog(FormDialog[replies.WrittenReply]):
    """The reply form with a live preview of the chosen template, rendered for this case."""

    DEFAULT_CSS = """
    ReplyDialog #reply-preview-box { height: auto; max-height: 16; border: round $panel; }
    """
    BINDINGS = [Binding("f3", "copy", "Copy text", id="reply.copy")]

    def __init__(self, app: DeskApp, detail: CaseDetail) -> None:
        self.detail = detail
        self.case = detail.case
        desk, case = app.desk, detail.case

        def submit(v: FormValues) -> replies.WrittenReply:
            return replies.write(desk, case_id=case.id, template=v["template"],
                                 out=Path(v["out"]).expanduser(),
                                 expected_version=case.version, cc=parsing.items(v["cc"]))

        super().__init__(
            f"Reply to case #{case.id} ({case.kind.label})",
            [Field.choice("template", "Template", []),
             Field.text("cc", "Cc (addresses, separated by commas; optional)"),
             Field.text("out", "Write the .eml to", str(default_reply_path(case.id)))],
            submit, name="replies.reply", wide=True,
        )
        self.draft: replies.ReplyDraft | None = None

    def compose_bottom(self) -> ComposeResult:
        with VerticalScroll(id="reply-preview-box"):
            yield Static("", id="reply-preview")

    def on_mount(self) -> None:
        desk, kind = self.desk, self.case.kind
        self.load("reply-templates", lambda: templates.list_templates(desk, kind=kind),
                  self._show_templates)

    def _show_templates(self, items: list[TemplateInfo]) -> None:
        languages: dict[str, list[str]] = {}
        for t in items:
            languages.setdefault(t.name, []).append(t.language)
        self.set_choices("template", [(f"{name}  ({', '.join(langs)})", name)
                                      for name, langs in languages.items()],
                         templates.suggested(self.detail, items))
        self.query_one("#f-template").focus()

    @on(OptionList.OptionHighlighted, "#f-template")
    def _preview(self) -> None:
        name, desk, case_id = self.value("template"), self.desk, self.case.id
        if name is None:
            return
        self.draft = None
        self.load("reply-preview", lambda: replies.preview(desk, case_id=case_id, template=name),
                  self._show_preview, failed=self._not_fillable)

    def _show_preview(self, draft: replies.ReplyDraft) -> None:
        self.draft = draft
        self.show_error(None)
        kind = "transactional" if draft.transactional else "MARKETING"
        head = (f"To: {draft.to_address}\nSubject: {draft.subject}\n"
                f"Language: {draft.language} · {kind} · replying to "
                f"{draft.in_reply_to or '(no earlier message id)'}\n\n")
        self.query_one("#reply-preview", Static).update(lit(head + draft.body))

    def _not_fillable(self, exc: Exception) -> bool:
        self.query_one("#reply-preview", Static).update("")
        return self._failed(exc)

    def action_copy(self) -> None:
        if self.draft is None:
            self.notify("Nothing to copy yet.", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(self.draft.body)
        self.notify("Reply text copied to the clipboard.", markup=False)


def _reply(app: DeskApp, detail: CaseDetail) -> None:
    app.push_screen(ReplyDialog(app, detail), say_saved(
        app, lambda r: f"Wrote {r.path}; recorded on case #{r.draft.case_id}.", "Reply"))


register(CaseAction(id="replies.reply", title="Reply", key="m",
                    help="Write a reply from a template as a .eml file", run=_reply))
