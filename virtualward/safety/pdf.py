"""The release report's PDF, drawn with fpdf2 from the same Markdown as the report itself.

Only the Markdown the report generator writes is understood: headings, paragraphs, bullet and
numbered lists, quotes and tables. So the PDF and the Markdown cannot say different things.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# fpdf2 subsets the embedded font with fontTools, which logs every table it touches at INFO.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_LATIN1 = str.maketrans({"—": "-", "–": "-", "→": "->", "×": "x", "↓": "v", "…": "...", "≥": ">=", "≤": "<="})
_HEADINGS = {"# ": 16, "## ": 13, "### ": 11}


def markdown_to_pdf(markdown: str, *, title: str, created_at: dt.datetime) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(title)
    pdf.set_creation_date(created_at)
    font = _font(pdf)
    pdf.add_page()
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|"):
            end = index
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            _table(pdf, font, lines[index:end])
            index = end
            continue
        _line(pdf, font, line)
        index += 1
    return bytes(pdf.output())


def _font(pdf: FPDF) -> str:
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    return "Helvetica"  # a core font: text is folded to Latin-1 below


def _plain(text: str, font: str) -> str:
    text = _LINK.sub(r"\1", text).replace("**", "").replace("`", "")
    if font == "Helvetica":
        text = text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")
    return text


def _line(pdf: FPDF, font: str, line: str) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("<"):
        if not stripped:
            pdf.ln(2)
        return
    for prefix, size in _HEADINGS.items():
        if line.startswith(prefix):
            pdf.ln(2)
            pdf.set_font(font, "B", size)
            _write(pdf, _plain(line[len(prefix) :], font), indent=0, height=size * 0.55)
            return
    indent = (len(line) - len(line.lstrip())) * 1.5
    bold = stripped.startswith(">") or (stripped.startswith("**") and stripped.endswith("**"))
    text = stripped.lstrip("> ") if stripped.startswith(">") else stripped
    if text.startswith("- "):
        text = "• " + text[2:] if font != "Helvetica" else "- " + text[2:]
        indent += 3
    # A test's node id is one long word: smaller, and broken anywhere rather than pushed to a line of its own.
    node_id = "::" in text
    pdf.set_font(font, "B" if bold else "", 7.5 if node_id else 9)
    _write(pdf, _plain(text, font), indent=indent, height=4 if node_id else 4.6, wrapmode="CHAR" if node_id else "WORD")


def _write(pdf: FPDF, text: str, *, indent: float, height: float, wrapmode: str = "WORD") -> None:
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(
        w=pdf.epw - indent, h=height, text=text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=wrapmode
    )


def _table(pdf: FPDF, font: str, rows: list[str]) -> None:
    cells = [[_plain(cell.strip(), font) for cell in row.strip().strip("|").split("|")] for row in rows]
    cells = [row for row in cells if not all(set(cell) <= {"-", ":"} for cell in row)]
    heading = any(cells[0])
    pdf.set_font(font, "", 8)
    pdf.ln(1)
    # Columns as wide as their longest text (capped), so a short column does not take a long one's room.
    widths = [_width([row[column] for row in cells]) for column in range(len(cells[0]))]
    with pdf.table(
        first_row_as_headings=heading, line_height=4.2, text_align="LEFT", col_widths=tuple(widths)
    ) as table:
        for row in cells if heading else cells[1:]:
            table.row(row)
    pdf.ln(2)


def _width(column: list[str]) -> int:
    longest_word = max((len(word) for text in column for word in text.split()), default=1)
    return max(10, min(25, longest_word), min(60, max(len(text) for text in column)))
