"""Replies from the case view: ``m`` opens the reply dialog — pick a template (only those for
the case's kind; it starts on the one that fits where the case is), read the rendered letter,
Ctrl+S writes the .eml and records it on the case, F3 copies the letter's text to the
clipboard. ``q`` answers a question from the policy the same way, by topic. A letter that
cannot be filled for this case (no override, no outcome) shows the reason instead of a preview,
so nothing with a blank goes out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static

from helpdesk.domain import MessageDirection
from helpdesk.services import answers, parsing, questions, replies, templates
from helpdesk.services.readmodels import CaseDetail
from screens.dialogs import Field, FormDialog, FormValues, say_saved
from screens.text import lit
from screens.widgets import focus_now

if TYPE_CHECKING:
    from screens.app import DeskApp


def default_reply_path(case_id: int, what: str = "reply") -> Path:
    """Where a letter for the case is written unless the agent says otherwise."""
    return Path.home() / f"case-{case_id}-{what}.eml"


class PreviewDialog(FormDialog[replies.WrittenReply]):
    """A letter to write on a case: a choice (``pick``) whose letter is previewed, rendered for
    the case, as the choice moves; Ctrl+S writes and records it, F3 copies its text. What
    cannot be filled for this case shows why instead of a preview."""

    DEFAULT_CSS = """
    PreviewDialog #reply-preview-box { height: auto; max-height: 16; border: round $panel; }
    """
    BINDINGS = [Binding("f3", "copy", "Copy text", id="reply.copy")]

    def __init__(self, title: str, fields: list[Field],
                 submit: Callable[[FormValues], replies.WrittenReply], *, pick: str,
                 preview: Callable[[Any], replies.ReplyDraft],
                 choices: Callable[[], tuple[list[tuple[str, Any]], Any]] | None = None,
                 name: str) -> None:
        super().__init__(title, fields, submit, name=name, wide=True)
        self.pick, self.preview, self.choices = pick, preview, choices
        self.draft: replies.ReplyDraft | None = None

    def compose_bottom(self) -> ComposeResult:
        with VerticalScroll(id="reply-preview-box"):
            yield Static("", id="reply-preview")

    def on_mount(self) -> None:
        if self.choices is not None:
            self.load("reply-choices", self.choices, self._show_choices)

    def _show_choices(self, found: tuple[list[tuple[str, Any]], Any]) -> None:
        items, chosen = found
        self.set_choices(self.pick, items, chosen)
        focus_now(self.query_one(f"#f-{self.pick}"))

    @on(OptionList.OptionHighlighted)
    def _preview(self, event: OptionList.OptionHighlighted) -> None:
        value, preview = self.value(self.pick), self.preview
        if event.option_list.id != f"f-{self.pick}" or value is None:
            return
        self.draft = None
        self.load("reply-preview", lambda: preview(value), self._show_preview,
                  failed=self._not_fillable)

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


def reply_dialog(app: DeskApp, detail: CaseDetail) -> PreviewDialog:
    """A reply from a template usable for the case's kind, starting on the one that fits
    where the case is (:func:`helpdesk.services.templates.suggested`)."""
    desk, case = app.desk, detail.case

    def submit(v: FormValues) -> replies.WrittenReply:
        return replies.write(desk, case_id=case.id, template=v["template"],
                             out=Path(v["out"]).expanduser(),
                             expected_version=case.version, cc=parsing.items(v["cc"]))

    def choices() -> tuple[list[tuple[str, Any]], Any]:
        items = templates.list_templates(desk, kind=case.kind)
        languages: dict[str, list[str]] = {}
        for t in items:
            languages.setdefault(t.name, []).append(t.language)
        return ([(f"{name}  ({', '.join(langs)})", name) for name, langs in languages.items()],
                templates.suggested(detail, items))

    return PreviewDialog(
        f"Reply to case #{case.id} ({case.kind.label})",
        [Field.choice("template", "Template", []),
         Field.text("cc", "Cc (addresses, separated by commas; optional)"),
         Field.text("out", "Write the .eml to", str(default_reply_path(case.id)))],
        submit, pick="template", choices=choices, name="replies.reply",
        preview=lambda name: replies.preview(desk, case_id=case.id, template=name))


def answer_dialog(app: DeskApp, detail: CaseDetail) -> PreviewDialog:
    """A question answered from the policy: pick the topic (the one the customer's letter
    speaks of comes first), read the answer, write it."""
    desk, case = app.desk, detail.case
    topics = list(answers.Topic)
    asked = answers.likely_topic(" ".join(
        [case.subject or "", *(m.body or "" for m in detail.messages
                               if m.direction is MessageDirection.INBOUND)]))

    def submit(v: FormValues) -> replies.WrittenReply:
        return questions.reply(desk, case_id=case.id, topic=v["topic"],
                               out=Path(v["out"]).expanduser(), expected_version=case.version)

    return PreviewDialog(
        f"Answer case #{case.id} from the policy",
        [Field.choice("topic", "Topic", [(t.label, t) for t in topics], asked),
         Field.text("out", "Write the .eml to", str(default_reply_path(case.id, "answer")))],
        submit, pick="topic", name="questions.answer",
        preview=lambda topic: questions.preview(desk, case_id=case.id, topic=topic))


def reply(app: DeskApp, detail: CaseDetail) -> None:
    app.push_screen(reply_dialog(app, detail), _written(app))


def answer(app: DeskApp, detail: CaseDetail) -> None:
    app.push_screen(answer_dialog(app, detail), _written(app))


def _written(app: DeskApp) -> Callable[[replies.WrittenReply | None], None]:
    return say_saved(app, lambda r: f"Wrote {r.path}; recorded on case #{r.draft.case_id}.",
                     "Reply")
