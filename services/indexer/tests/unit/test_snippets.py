"""Search snippets are HTML-safe: the document's text escaped, only real highlights marked."""

from __future__ import annotations

from docstore_indexer.adapters.search_index import _hit
from docstore_indexer.domain.snippets import HighlightMarks, safe_snippet

MARKS = HighlightMarks.fresh()


def typesense(text: str) -> str:
    """What Typesense returns for `text` with the words in «guillemets» highlighted with MARKS."""
    return text.replace("«", MARKS.start).replace("»", MARKS.end)


def test_script_in_a_document_comes_back_as_text() -> None:
    raw = typesense("before <script>alert(1)</script> the «budget» & <img src=x onerror=alert(2)> \"q\" 'a'")
    assert safe_snippet(raw, MARKS) == (
        "before &lt;script&gt;alert(1)&lt;/script&gt; the <mark>budget</mark> &amp; "
        "&lt;img src=x onerror=alert(2)&gt; &quot;q&quot; &#x27;a&#x27;"
    )


def test_document_text_cannot_forge_a_highlight() -> None:
    # The text holds Typesense's default tags and an already-escaped tag: both stay text.
    raw = typesense("<mark>fake</mark> and &lt;mark&gt; and «real»")
    snippet = safe_snippet(raw, MARKS)
    assert snippet == "&lt;mark&gt;fake&lt;/mark&gt; and &amp;lt;mark&amp;gt; and <mark>real</mark>"
    assert snippet.count("<mark>") == 1


def test_another_querys_markers_are_just_text() -> None:
    other = HighlightMarks.fresh()
    assert other != MARKS and MARKS.start not in other.start
    raw = f"{other.start}guess{other.end} " + typesense("«hit»")
    assert safe_snippet(raw, MARKS) == f"{other.start}guess{other.end} <mark>hit</mark>"


def test_marks_always_pair_up() -> None:
    assert safe_snippet(typesense("a «b"), MARKS) == "a <mark>b</mark>"
    assert safe_snippet(typesense("a» b"), MARKS) == "a b"
    assert safe_snippet(typesense("««x»»"), MARKS) == "<mark>x</mark>"
    assert safe_snippet("", MARKS) == ""


def test_hits_carry_the_escaped_snippet_of_the_text_or_else_the_name() -> None:
    document = {
        "document_id": "d1",
        "name": "<b>n</b>.txt",
        "version": 1,
        "content_type": "text/plain",
        "tags": [],
        "created_at": 1,
    }
    from_text = _hit(
        {
            "document": document,
            "highlights": [
                {"field": "name", "snippet": typesense("<b>«n»</b>.txt")},
                {"field": "text", "snippet": typesense("<script>alert(1)</script> «secret»")},
            ],
        },
        MARKS,
    )
    assert from_text.snippet == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>secret</mark>"
    from_name = _hit(
        {"document": document, "highlights": [{"field": "name", "snippet": typesense("<b>«n»</b>.txt")}]}, MARKS
    )
    assert from_name.snippet == "&lt;b&gt;<mark>n</mark>&lt;/b&gt;.txt"
    assert from_name.name == "<b>n</b>.txt"  # the name field itself is data, not HTML: unchanged
