"""The desk's widgets: one list, one picker, one scrolling detail pane, the key bar.

Every list-like widget takes its movement keys from :func:`motion_bindings`, so they share one
set of binding ids (``list.down``, ``list.up``, ``list.first``, ``list.last``,
``list.page_down``, ``list.page_up``) and one keymap entry (``[keymap] "list.down" = "n"``)
remaps every list, picker and detail pane at once.

:class:`ListTable` is the table every screen lists rows in: keyset paging from a service
(:meth:`ListTable.show` with a fetch function returning a ``Page``), refresh in place that
keeps the cursor and scroll position (:meth:`ListTable.refresh_rows`), and column priorities:
on a narrow terminal low-priority columns give way, so the deadline column stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import OptionList

from helpdesk.services.readmodels import Page
from screens.base import Loader

T = TypeVar("T")

#: A row: its key (the record's id as text) and one cell per column, in column order.
Row = tuple[str, Sequence[Text]]
#: What a :class:`ListTable` keeps of a cell: its text and its style (a cell is drawn in one
#: style). Two strings, not a Text (itself and two lists, all walked by the cycle collector).
Cell = tuple[str, str | Style]
#: Loads one page: ``fetch(cursor, limit)``; ``cursor`` None is the first page.
Fetch = Callable[[str | None, int], Page[T]]

#: The most rows a refresh reloads at once (the service's largest page).
REFRESH_LIMIT = 500


def motion_bindings(*, down: str = "cursor_down", up: str = "cursor_up",
                    first: str = "first", last: str = "last",
                    page_down: str | None = None, page_up: str | None = None) -> list[Binding]:
    """The movement keys of every list, under the shared ``list.*`` ids; ``down``/``up``...
    name the widget's own actions for each."""
    bindings = [
        Binding("j", down, "Down", show=False, id="list.down"),
        Binding("k", up, "Up", show=False, id="list.up"),
        Binding("g", first, "First", show=False, id="list.first"),
        Binding("G", last, "Last", show=False, id="list.last"),
    ]
    if page_down and page_up:
        bindings += [
            Binding("pagedown", page_down, "Page down", show=False, id="list.page_down"),
            Binding("pageup", page_up, "Page up", show=False, id="list.page_up"),
        ]
    return bindings


def focus_now(widget: Widget) -> None:
    """Focus ``widget`` before the next key is handled.

    ``Widget.focus`` waits its turn behind the keys already queued, so keys typed fast after
    Tab, Enter or a key that opens something went to where the focus was before.
    """
    widget.screen.set_focus(widget)


#: Lines the header of a :class:`ListTable` takes; its rows start below it.
HEADER = 1
#: Blank cells either side of every column of a :class:`ListTable`.
PADDING = 1


def _kept(row: Sequence[Text]) -> tuple[Cell, ...]:
    return tuple((text.plain, text.style) for text in row)


class _Frame(NamedTuple):
    """What every line of one frame of a :class:`ListTable` is drawn with."""

    width: int
    scroll_x: int
    scroll_y: int
    styles: dict[str, Style]
    cursor: int  # the cursor's row, -1 when not shown


@dataclass(frozen=True, slots=True)
class ListColumn:
    """A column of a :class:`ListTable`.

    ``width`` is its width in cells; ``priority`` decides what stays on a narrow terminal (0
    first; higher numbers give way first); a ``flex`` column also takes the width left over.
    """

    key: str
    label: str
    width: int
    priority: int = 1
    flex: bool = False


class ListTable(Loader, ScrollView, Generic[T], can_focus=True):
    """A table of records, one row per record, keyed by the record's id.

    Rows come either from a paged service call (:meth:`show`: the first page at once, the next
    when the cursor comes within ``prefetch`` rows of the end, or on :meth:`more`) or as a
    complete list (:meth:`set_items`). ``row`` turns a record into its cells; :attr:`current` is
    the record under the cursor.

    A Line API widget: its virtual size is the columns' width by the rows plus the header, and
    :meth:`render_line` draws each line on screen straight from the cells. A new page is its
    records, their cells and a key list — nothing is measured or laid out per row or cell, so
    it costs little to list and keeps few objects alive for the garbage collector to walk.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "listtable--header", "listtable--cursor", "listtable--even-row", "listtable--odd-row",
    }

    # The look of Textual's own tables: a bold header on the panel colour, every other row a
    # shade lighter, the cursor in the theme's block cursor colours (muted without focus).
    DEFAULT_CSS = """
    ListTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        & > .listtable--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .listtable--header { background: ansi_bright_blue; color: ansi_default; }
        & > .listtable--even-row { background: $surface-lighten-1 50%; }
        &:dark > .listtable--even-row { background: $surface-darken-1 40%; }
        & > .listtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .listtable--header { background-tint: $foreground 5%; }
            & > .listtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
        *motion_bindings(page_down="page_down", page_up="page_up"),
    ]

    #: Whether the cursor is drawn (and Enter or a click selects).
    show_cursor: reactive[bool] = reactive(True)

    class TableMessage(Message):
        """A message from a :class:`ListTable`; ``control`` is the table (``@on`` selectors
        match it)."""

        ALLOW_SELECTOR_MATCH: ClassVar[set[str]] = {"control"}

        def __init__(self, table: ListTable[Any]) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> ListTable[Any]:
            return self.table

    class Loaded(TableMessage):
        """Rows arrived: ``count`` rows are loaded, ``more`` when further pages exist."""

        def __init__(self, table: ListTable[Any], count: int, more: bool) -> None:
            super().__init__(table)
            self.count = count
            self.more = more

    class RowHighlighted(TableMessage):
        """The cursor moved to the row ``row_key``, ``cursor_row`` from the top."""

        def __init__(self, table: ListTable[Any], row_key: str, cursor_row: int) -> None:
            super().__init__(table)
            self.row_key = row_key
            self.cursor_row = cursor_row

    class RowSelected(RowHighlighted):
        """The row ``row_key`` was chosen (Enter, or a click on the cursor's row)."""

    def __init__(self, columns: Sequence[ListColumn], row: Callable[[T], Row], *,
                 first_page: int = 50, page_size: int = 100, prefetch: int = 25,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.spec = tuple(columns)
        self.row = row
        self.first_page = first_page
        self.page_size = page_size
        self.prefetch = prefetch
        self.items: dict[str, T] = {}
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []  # row keys top to bottom, as drawn
        self._cursor = 0
        self._drawn = 0  # bumped whenever what the rows show changes: drawn strips are stale
        self._strips: dict[tuple[object, ...], Strip] = {}
        self._styles_key: tuple[object, ...] = ()
        self._styles: dict[str, Style] = {}
        self._fetch: Fetch[T] | None = None
        self.next_cursor: str | None = None
        #: A page is on its way. (Not Widget.loading: that one covers the table with an
        #: animated indicator, which takes focus away and spins while a load is pending.)
        self.fetching = False
        #: Downward moves asked for past the last loaded row while the next page was on its
        #: way (a held key outrunning the load): made when it lands.
        self._owed = 0
        #: A new list (:meth:`show`) is on its way: the list keys typed meanwhile are for it,
        #: and are made, in order, once it is listed.
        self._coming = False
        self._typed: list[Callable[[], None]] = []
        self._shown: tuple[tuple[int, int], ...] = ()  # (column index, width) on screen
        self._frame: _Frame | None = None  # set while a frame is drawn (render_lines)

    # --- what is listed --------------------------------------------------------------------

    def show(self, fetch: Fetch[T]) -> None:
        """List what ``fetch`` pages through, from its first page, cursor on top."""
        self._fetch = fetch
        self.next_cursor = None
        self._coming = True
        self._load_pages(None, self.first_page, replace=True, keep=False)

    def refresh_rows(self) -> None:
        """Load the rows again (as many as are loaded now, at most :data:`REFRESH_LIMIT`),
        keeping the cursor on the same record and the scroll position; nothing is redrawn
        when nothing changed."""
        if self._fetch is not None:
            limit = min(max(self.first_page, len(self.items)), REFRESH_LIMIT)
            self._load_pages(None, limit, replace=True, keep=True)

    def set_items(self, items: Iterable[T], *, more: bool = False) -> None:
        """List exactly ``items`` (no paging), keeping the cursor on the same record."""
        self._fetch = None
        self._replace(list(items), None, keep=True)
        self.next_cursor = None
        self.post_message(self.Loaded(self, len(self.items), more))

    @property
    def row_count(self) -> int:
        """How many rows are loaded."""
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        """The cursor's row, from 0 at the top (0 when the table is empty)."""
        return self._cursor

    @property
    def current(self) -> T | None:
        """The record under the cursor."""
        key = self.current_key
        return self.items.get(key) if key is not None else None

    @property
    def current_key(self) -> str | None:
        """The key of the row under the cursor; None when the table is empty."""
        return self._order[self._cursor] if self._order else None

    def row_keys(self) -> list[str]:
        """Keys of the loaded rows, in order."""
        return list(self.items)

    def redraw(self, key: str) -> None:
        """Draw the row ``key`` again from its record (after something it shows changed)."""
        if key in self.items:
            _, row = self.row(self.items[key])
            self._cells[key] = _kept(row)
            self._drawn += 1
            self.refresh()

    def cell_of(self, key: str, column: str) -> Text:
        """The cell of ``column`` in the row ``key``, shown or not, as it is drawn."""
        index = next(i for i, c in enumerate(self.spec) if c.key == column)
        plain, style = self._cells[key][index]
        return Text(plain, style=style)

    # --- loading ---------------------------------------------------------------------------

    def _load_pages(self, cursor: str | None, limit: int, *, replace: bool, keep: bool) -> None:
        fetch = self._fetch
        assert fetch is not None
        self.fetching = True

        def landed(page: Page[T]) -> None:
            self.fetching = False
            if replace:
                self._owed = 0
                self._replace(list(page.items), page.next_cursor, keep=keep)
            else:
                self._append(page.items)
            self.next_cursor = page.next_cursor
            if self._owed and self.row_count:
                target = self._cursor + self._owed
                last = self.row_count - 1
                self._owed = max(0, target - last) if page.next_cursor else 0
                self.move_cursor(row=min(target, last))
            self.post_message(self.Loaded(self, len(self.items), page.next_cursor is not None))
            if replace:
                self._listed()

        def failed(exc: Exception) -> bool:
            self.fetching = False
            self._coming = False
            self._typed.clear()  # the list they were for never came
            return False

        self.load("rows", lambda: fetch(cursor, limit), landed, failed=failed)

    def _listed(self) -> None:
        """The new list is here: make the keys typed for it."""
        self._coming = False
        typed, self._typed = self._typed, []
        for action in typed:
            action()

    def _for_coming_list(self, action: Callable[[], None]) -> bool:
        """Keep ``action`` (a list key) for the list on its way, if one is; True when kept."""
        if self._coming:
            self._typed.append(action)
        return self._coming

    def more(self) -> bool:
        """Load the next page now; False when there is none (or one is on its way)."""
        if not self.next_cursor or self._fetch is None or self.fetching:
            return False
        self._load_pages(self.next_cursor, self.page_size, replace=False, keep=True)
        return True

    def on_list_table_row_highlighted(self, event: ListTable.RowHighlighted) -> None:
        if self.prefetch and event.cursor_row >= self.row_count - self.prefetch:
            self.more()

    # --- rows ------------------------------------------------------------------------------

    def _rows(self, items: list[T]) -> tuple[dict[str, T], dict[str, tuple[Cell, ...]]]:
        records: dict[str, T] = {}
        cells: dict[str, tuple[Cell, ...]] = {}
        for item in items:
            key, row = self.row(item)
            if key not in records:
                records[key] = item
                cells[key] = _kept(row)
        return records, cells

    def _replace(self, items: list[T], next_cursor: str | None, *, keep: bool) -> None:
        records, cells = self._rows(items)
        self.next_cursor = next_cursor
        if list(cells) == self._order:
            changed = any(cells[k] != self._cells[k] for k in cells)
            self.items, self._cells = records, cells
            if changed:  # same rows in the same order: only what they show is redrawn
                self._drawn += 1
                self.refresh()
            return
        key, scroll = self.current_key, self.scroll_y
        self.items, self._cells = records, cells
        self._order = list(cells)
        self._strips.clear()
        self._resized()
        if keep and key in cells:
            self.move_cursor(row=self._order.index(key), scroll=False)
        else:
            self.move_cursor(row=self._cursor if keep else 0, scroll=False)
        self.scroll_to(y=scroll if keep else 0, animate=False)
        self._scroll_to_cursor()  # rows gone above it may have taken it off the top

    def _append(self, items: Iterable[T]) -> None:
        records, cells = self._rows(list(items))
        added = [key for key in records if key not in self.items]
        for key in added:
            self.items[key] = records[key]
            self._cells[key] = cells[key]
        self._order += added
        if added:
            self._resized()

    def _visible(self, cells: tuple[Cell, ...]) -> list[Cell]:
        return [cells[index] for index, _ in self._shown]

    def _resized(self) -> None:
        """The rows or the columns changed: a new virtual size, the cursor on a row, the
        lines drawn again (rows already drawn come from the cache)."""
        width = sum(column_width + 2 * PADDING for _, column_width in self._shown)
        self.virtual_size = Size(width, len(self._order) + HEADER)
        self._cursor = max(0, min(self._cursor, len(self._order) - 1))
        self.refresh()

    # --- columns ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._layout(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """Show the columns that fit ``width``, most important first; flex columns share
        what is left."""
        pad = 2 * PADDING
        room = width - 2  # the vertical scrollbar
        chosen: set[int] = set()
        used = 0
        for index, column in sorted(enumerate(self.spec), key=lambda c: c[1].priority):
            if not chosen or used + column.width + pad <= room:
                chosen.add(index)
                used += column.width + pad
        widths = {i: self.spec[i].width for i in chosen}
        flex = [i for i in sorted(chosen) if self.spec[i].flex]
        for n, index in enumerate(flex):
            share = (room - used) // len(flex) + (1 if n < (room - used) % len(flex) else 0)
            widths[index] += max(0, share)
        shown = tuple((i, widths[i]) for i in sorted(chosen))
        if shown != self._shown:
            self._shown = shown
            self._strips.clear()
            self._resized()

    @property
    def shown_columns(self) -> list[str]:
        """Keys of the columns on screen, left to right."""
        return [self.spec[index].key for index, _ in self._shown]

    # --- drawing ---------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of a frame shares is looked up once for the frame: each lookup
        # (size, scroll offset, cursor, focus and theme) walks reactives and regions, and
        # together they cost more than a row taken from the cache.
        self._frame = self._frame_now()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_now(self) -> _Frame:
        return _Frame(self.size.width, *self.scroll_offset, self._paint_styles(),
                      self._cursor if self.show_cursor else -1)

    def render_line(self, y: int) -> Strip:
        """Line ``y`` on screen: the header on top, then the rows from the scroll position.

        Our cells are one line in one style, so a row is a handful of segments cut to the
        column widths (no console rendering, padding or measuring); a drawn row is kept until
        what it shows, its place, the cursor, the width or the look changes.
        """
        frame = self._frame or self._frame_now()
        width, scroll_x, styles = frame.width, frame.scroll_x, frame.styles
        row = y - HEADER + frame.scroll_y if y >= HEADER else -1
        if row >= len(self._order):
            return Strip.blank(width, styles["base"])
        cursor = row >= 0 and row == frame.cursor
        key = (row, self._order[row] if row >= 0 else "", cursor, width, self._drawn, id(styles))
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4 * REFRESH_LIMIT:
                self._strips.clear()
            strip = self._strips[key] = self._row_strip(row, cursor, width, styles)
        return strip if not scroll_x else strip.crop_extend(scroll_x, scroll_x + width,
                                                            styles["base"])

    def _paint_styles(self) -> dict[str, Style]:
        """The component styles rows are drawn with, looked up once per focus state and
        theme (looking them up costs more than drawing a row)."""
        key = (self.has_focus, self.app.theme)
        if self._styles_key != key:
            component = self.get_component_rich_style
            base = self.rich_style
            over = component("listtable--cursor")
            self._styles_key = key
            self._styles = {
                "base": base,
                "header": component("listtable--header"),
                "even": base + component("listtable--even-row"),
                "odd": base + component("listtable--odd-row"),
                "cursor": over,
                # the cursor's colours win over a cell's own
                "post": Style.from_color(over.color, over.bgcolor),
            }
        return self._styles

    def _row_strip(self, row: int, cursor: bool, width: int, styles: dict[str, Style]) -> Strip:
        if row < 0:
            row_style = styles["header"]
            cells: list[Cell] = [(self.spec[index].label, "") for index, _ in self._shown]
        else:
            row_style = styles["odd" if row % 2 else "even"]
            cells = self._visible(self._cells[self._order[row]])
        lead = row_style + styles["cursor"] if cursor else row_style
        post = styles["post"] if cursor else Style()
        looks: dict[str | Style, Style] = {}  # a row's cells mostly share one style
        pad = " " * PADDING
        get_style = self.app.console.get_style
        segments = []
        used = 0
        for (plain, cell_style), (_, column_width) in zip(cells, self._shown, strict=True):
            if cell_len(plain) > column_width:
                plain = set_cell_size(plain, max(column_width - 1, 0)) + "…"
            look = looks.get(cell_style)
            if look is None:
                style = cell_style if isinstance(cell_style, Style) else get_style(cell_style)
                look = looks[cell_style] = lead + style + post
            segments.append(Segment(pad + set_cell_size(plain, column_width) + pad, look))
            used += column_width + 2 * PADDING
        if used < width:
            segments.append(Segment(" " * (width - used), styles["base"]))
        return Strip(segments, max(used, width))

    # --- the cursor ------------------------------------------------------------------------

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (kept within the rows), scrolled into view unless
        ``scroll`` is False; a move to another row posts :class:`RowHighlighted`."""
        old, new = self._cursor, max(0, min(row, len(self._order) - 1))
        if new != old:
            self._cursor = new
            self.refresh_line(old + HEADER)
            self.refresh_line(new + HEADER)
            self.post_message(self.RowHighlighted(self, self._order[new], new))
        if scroll:
            self._scroll_to_cursor()

    def _page_rows(self) -> int:
        """How many rows one screen of the table shows."""
        return max(1, self.scrollable_content_region.height - HEADER)

    def _scroll_to_cursor(self) -> None:
        top, rows = round(self.scroll_y), self._page_rows()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False)

    def on_click(self, event: events.Click) -> None:
        """A click on a row puts the cursor there; a click on the cursor's row selects it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER or not self.show_cursor:
            return
        row = offset.y - HEADER + round(self.scroll_y)
        if row < len(self._order):
            event.stop()
            if row == self._cursor:
                self.action_select_cursor()
            else:
                self.move_cursor(row=row)

    def action_select_cursor(self) -> None:
        if self._for_coming_list(self.action_select_cursor):
            return
        key = self.current_key
        if key is not None and self.show_cursor:
            self.post_message(self.RowSelected(self, key, self._cursor))

    def action_cursor_down(self) -> None:
        if self._for_coming_list(self.action_cursor_down):
            return
        if (self.row_count and self._cursor == self.row_count - 1
                and (self.fetching or self.more())):
            self._owed += 1  # the next page is coming: the move is made when it lands
            return
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_up(self) -> None:
        if self._for_coming_list(self.action_cursor_up):
            return
        self.move_cursor(row=self._cursor - 1)

    def action_page_down(self) -> None:
        if self._for_coming_list(self.action_page_down):
            return
        rows = self._page_rows()
        self.scroll_to(y=self.scroll_y + rows, animate=False)
        self.move_cursor(row=self._cursor + rows)

    def action_page_up(self) -> None:
        if self._for_coming_list(self.action_page_up):
            return
        rows = self._page_rows()
        self.scroll_to(y=self.scroll_y - rows, animate=False)
        self.move_cursor(row=self._cursor - rows)

    def action_first(self) -> None:
        if self._for_coming_list(self.action_first):
            return
        self._owed = 0
        self.move_cursor(row=0)

    def action_last(self) -> None:
        if self._for_coming_list(self.action_last):
            return
        self._owed = 0
        self.move_cursor(row=self.row_count - 1)


class Picker(OptionList):
    """A list of choices (queues, statuses, templates, agents ...) with the list keys. Like
    the tables, it stops at either end instead of wrapping round (a burst of keys that
    overshoots lands on the last choice, not on one near the top)."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        *motion_bindings(page_down="page_down", page_up="page_up"),
    ]

    def _step(self, direction: int) -> None:
        index = self.highlighted
        if index is None:
            self.action_first() if direction > 0 else self.action_last()
            return
        index += direction
        while 0 <= index < self.option_count:
            if not self.get_option_at_index(index).disabled:
                self.highlighted = index
                return
            index += direction

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)


class DetailScroll(VerticalScroll):
    """A scrolling pane of detail (a case's thread, a profile) that the list keys scroll.

    What lies below the first screen of a record being opened may be built right after the
    first paint (:meth:`defer`), so opening costs what is on screen, not what the record holds.
    End (and ``G``) first builds what still waits, so it lands on the real end.
    """

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        *motion_bindings(down="scroll_down", up="scroll_up", first="scroll_home",
                         last="scroll_end"),
    ]

    #: The rest of the content, waiting for the next paint (see :meth:`defer`).
    waiting: Callable[[], Awaitable[object] | None] | None = None

    def defer(self, build: Callable[[], Awaitable[object] | None] | None) -> None:
        """Run ``build`` (it adds the rest of the content) right after the next paint, or
        sooner when a key needs it. It replaces a build still waiting; None just drops that."""
        self.waiting = build
        if build is not None:
            self.call_after_refresh(self.complete)

    def complete(self) -> Awaitable[object] | None:
        """Build now what waits, if anything (what it returns, e.g. a mount, can be awaited)."""
        build, self.waiting = self.waiting, None
        return build() if build is not None else None

    async def action_scroll_end(self) -> None:
        built = self.complete()
        if built is not None:
            await built
        super().action_scroll_end()


class KeyBar(Widget):
    """One line of key hints from the screen's live bindings (keymap and ``check_action``
    included), redrawn when the bindings change. Hints that do not fit are left out whole,
    never cut.

    A light stand-in for Textual's Footer, which builds a widget per key and costs tens of
    milliseconds on every screen push — too much for a desk that opens screens all day.
    """

    DEFAULT_CSS = "KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }"

    def __init__(self) -> None:
        super().__init__()
        self.hints: list[tuple[str, str, bool]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.refresh_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh_keys()

    def refresh_keys(self) -> None:
        hints: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            b = active.binding
            if not b.show or not b.description or b.description in seen:
                continue
            seen.add(b.description)
            hints.append((self.app.get_key_display(b), b.description, active.enabled))
        if hints != self.hints:
            self.hints = hints
            self.refresh()

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        width = self.size.width
        for key, description, enabled in self.hints:
            hint = Text.assemble((key, "bold"), f" {description}",
                                 style="" if enabled else "dim")
            gap = 2 if out else 0
            if out.cell_len + gap + hint.cell_len > width:
                continue
            if gap:
                out.append("  ")
            out.append_text(hint)
        return out


class IdentityBar(Widget):
    """The header line: who acts (agent and role, and the real account when acting as someone
    else) and on which database (file path, or user@host/database, never a password)."""

    DEFAULT_CSS = ("IdentityBar { dock: top; height: 1; background: $panel; "
                   "color: $text-muted; }")

    def on_mount(self) -> None:
        self.watch(self.app, "identity", lambda _value: self.refresh())

    def render(self) -> Text:
        who = getattr(self.app, "identity", None)
        out = Text(no_wrap=True, overflow="crop")
        if who is None:
            return out.append("…")
        if who.real_account != who.agent.name:  # the account at the keyboard comes first
            out.append(f"{who.real_account} acting as ")
        out.append(who.agent.name, "bold")
        out.append(f" ({who.agent.role.value})")
        out.append("  ·  ")
        room = self.size.width - out.cell_len
        where = who.database
        if len(where) > room > 1:  # keep the end: the file or database name matters most
            where = "…" + where[-(room - 1):]
        return out.append(where)
