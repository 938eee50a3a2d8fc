"""What a person sees: the desk's screen as lines of text, read from Textual's own screenshot.

``App.export_screenshot()`` renders the screen exactly as the terminal shows it (as SVG); each
``<text>`` element of it carries its line (``clip-path=...line-N``) and its column (``x`` over
the cell width). Reading it back gives the visible text, with cropped and scrolled-away parts
missing, which a widget's own data does not show.
"""

from __future__ import annotations

import html
import re

from textual.app import App

_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
    r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)


def screen_lines(app: App[object]) -> list[str]:
    """The screen's text, one string per terminal line."""
    svg = app.export_screenshot()
    width, height = app.size
    cell = _cell_width(svg)
    grid = [[" "] * width for _ in range(height)]
    for x, _length, line, text in _TEXT.findall(svg):
        row = int(line)
        if row >= height:
            continue
        column = round(float(x) / cell)
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            if 0 <= column + i < width:
                grid[row][column + i] = ch
    return ["".join(row).rstrip() for row in grid]


def _cell_width(svg: str) -> float:
    """Width of one cell in the screenshot (a one-character element shows it)."""
    widths = [float(length) / len(html.unescape(text))
              for _x, length, _line, text in _TEXT.findall(svg) if text]
    return min(widths) if widths else 12.2


def line_with(app: App[object], *words: str) -> str | None:
    """The first visible line holding every one of ``words``."""
    return next((line for line in screen_lines(app) if all(w in line for w in words)), None)
