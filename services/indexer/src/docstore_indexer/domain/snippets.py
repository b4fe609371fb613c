"""Search snippets that are safe to insert as HTML. Pure functions.

Typesense is asked to wrap each match in markers made fresh for one query
(`HighlightMarks`), which no stored text can contain; `safe_snippet` escapes everything
else and turns only those markers into `<mark>`/`</mark>`.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class HighlightMarks:
    """The strings Typesense is asked to put around each match, instead of its default `<mark>`.

    With the default, a document whose text holds `<mark>` (or `<script>`) would come back
    indistinguishable from real highlighting. These carry a random value made for one query,
    so no stored text can contain them: everything between them is the document's text.
    """

    start: str
    end: str

    @classmethod
    def fresh(cls) -> HighlightMarks:
        nonce = secrets.token_hex(16)
        return cls(start=f"[[hl-{nonce}]]", end=f"[[/hl-{nonce}]]")


def safe_snippet(raw: str, marks: HighlightMarks) -> str:
    """Typesense's snippet as HTML: the document text escaped, only `<mark>`/`</mark>` added.

    Marks are kept only when they pair up (start, then end), so the result is always
    well-formed; a stray marker (it cannot come from the text) is dropped.
    """
    out: list[str] = []
    inside = False
    for piece in re.split(f"({re.escape(marks.start)}|{re.escape(marks.end)})", raw):
        if piece == marks.start:
            if not inside:
                out.append("<mark>")
                inside = True
        elif piece == marks.end:
            if inside:
                out.append("</mark>")
                inside = False
        elif piece:
            out.append(html.escape(piece, quote=True))
    if inside:
        out.append("</mark>")
    return "".join(out)
