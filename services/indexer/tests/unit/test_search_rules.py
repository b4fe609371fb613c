"""The rules of a search request: the content-type filter's short forms, and the Premium refusal."""

from __future__ import annotations

import pytest

from docstore_indexer.domain.plans import FullTextNeedsPremium
from docstore_indexer.domain.search import UnknownContentType, content_types


def test_file_extensions_stand_for_their_mime_types() -> None:
    assert content_types(["pdf"]) == ("application/pdf",)
    assert content_types([".DOCX"]) == ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    assert content_types(["png", "jpg", "jpeg"]) == ("image/png", "image/jpeg")
    assert content_types(["md"]) == ("text/markdown", "text/x-markdown")
    assert content_types(["mp4"]) == ("video/mp4",)  # beyond the table: the stdlib's own


def test_mime_types_pass_through_normalised() -> None:
    assert content_types(["Application/PDF; charset=binary", " ", "text/plain"]) == ("application/pdf", "text/plain")


def test_anything_else_is_refused_not_silently_empty() -> None:
    with pytest.raises(UnknownContentType, match=r"'portable document' is not a MIME type .*such as pdf") as error:
        content_types(["pdf", "portable document"])
    assert error.value.status == 422


def test_the_premium_refusal_names_the_plan_that_lifts_it() -> None:
    """As upload's no-room and over-quota refusals do: the plan, the upgrade and where to make it."""
    for plan, shown in ((None, "free"), ("free", "free"), ("business", "business")):
        refusal = FullTextNeedsPremium(plan)
        assert refusal.status == 403
        assert refusal.extra() == {"plan": shown, "upgrade_plan": "premium", "upgrade_url": "/v1/account/plan"}
