from datetime import UTC, datetime

import pytest

from docstore_metadata.domain.documents import (
    InvalidDetails,
    SearchCriteria,
    check_criteria,
    check_name,
    check_path,
    check_tags,
    compare,
    conflict_copy_name,
    freed_objects,
    matches,
    numbered,
    prefix_upper_bound,
    rarest_trigram,
    trigrams,
    versions_to_prune,
)

AT = datetime(2026, 11, 22, 14, 32, 59, tzinfo=UTC)


def test_trigrams_are_case_folded_windows() -> None:
    assert trigrams("Report.PDF") == sorted({"rep", "epo", "por", "ort", "rt.", "t.p", ".pd", "pdf"})
    assert trigrams("ab") == []


def test_every_trigram_of_a_substring_is_a_trigram_of_the_name() -> None:
    name = "Quarterly Budget 2026.xlsx"
    assert set(trigrams("budget 20")) <= set(trigrams(name))
    assert rarest_trigram(trigrams("budget 20")) in trigrams("budget 20")


def test_rarest_trigram_prefers_rare_characters() -> None:
    assert rarest_trigram(["the", "xqz"]) == "xqz"


@pytest.mark.parametrize(("prefix", "bound"), [("rep", "req"), ("a", "b"), ("z\U0010ffff", "{"), ("\ud7ff", "\ue000")])
def test_prefix_upper_bound(prefix: str, bound: str) -> None:
    assert prefix_upper_bound(prefix) == bound
    assert prefix + "zzzz" < bound


def test_conflict_copy_name_keeps_the_extension() -> None:
    assert conflict_copy_name("report.pdf", AT) == "report (conflict copy 2026-11-22 143259).pdf"
    assert conflict_copy_name("README", AT) == "README (conflict copy 2026-11-22 143259)"
    assert conflict_copy_name(".bashrc", AT) == ".bashrc (conflict copy 2026-11-22 143259)"
    assert conflict_copy_name("a.tar.gz", AT) == "a.tar (conflict copy 2026-11-22 143259).gz"
    # The copy's own id, shortened, keeps two copies made in one second apart (issue 34).
    assert conflict_copy_name("report.pdf", AT, "1a2b3c") == "report (conflict copy 2026-11-22 143259 1a2b3c).pdf"
    assert numbered("report.pdf", 2) == "report 2.pdf" and numbered("README", 3) == "README 3"
    long = conflict_copy_name("x" * 250 + ".pdf", AT)
    assert len(long) == 255 and long.endswith("143259).pdf")


def test_retention_prunes_the_oldest_beyond_the_cap() -> None:
    assert versions_to_prune([1, 2, 3], 10) == []
    assert versions_to_prune(range(1, 12), 10) == [1]
    assert versions_to_prune([3, 1, 5, 4, 2], 2) == [1, 2, 3]
    assert versions_to_prune([7], 0) == []  # the current version always stays


def test_freed_objects_count_each_unreferenced_object_once() -> None:
    v1 = {"bucket": "b", "key": "k1", "size": 100}
    v2 = {"bucket": "b", "key": "k2", "size": 200}
    v3_restores_v1 = {"bucket": "b", "key": "k1", "size": 100}
    freed = freed_objects([v1, v2], [v3_restores_v1])
    assert freed.keys == [("b", "k2")] and freed.size == 200
    whole = freed_objects([v1, v2, v3_restores_v1], [])
    assert whole.keys == [("b", "k1"), ("b", "k2")] and whole.size == 300


@pytest.mark.parametrize("name", ["", "a/b", "..", "a\x00b", "x" * 256, "a\\b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidDetails, match="^A name can") as refused:
        check_name(name)
    assert refused.value.field == "name"


def test_a_name_with_a_slash_points_at_move_not_at_a_field() -> None:
    with pytest.raises(InvalidDetails) as refused:
        check_name("Invoices/march.pdf")
    assert str(refused.value) == "A name can't contain '/' or '\\'. To move the file into a folder, choose Move."
    assert "`" not in str(refused.value)


def test_paths_and_tags_are_normalised() -> None:
    assert check_path("/a//b/") == "/a/b"
    assert check_path("") == "/"
    assert check_tags([" b", "a", "b"]) == ["a", "b"]
    for bad in ("a/b", "/a/../b", "/a\x07"):
        with pytest.raises(InvalidDetails) as refused:
            check_path(bad)
        assert refused.value.field == "path"
    with pytest.raises(InvalidDetails, match="^Each tag is") as refused:
        check_tags([""])
    assert refused.value.field == "tags"


def test_search_needs_a_criterion_and_three_characters_for_substrings() -> None:
    with pytest.raises(InvalidDetails, match="at least one"):
        check_criteria(SearchCriteria())
    with pytest.raises(InvalidDetails, match="3 characters"):
        check_criteria(SearchCriteria(name="ab", name_match="substring"))


def test_residual_match() -> None:
    doc = {
        "name": "Budget 2026.xlsx",
        "name_lower": "budget 2026.xlsx",
        "created_at": AT,
        "modified_at": AT,
        "tags": ["finance", "q4"],
        "content_type": "text/csv",
        "trashed": False,
    }
    assert matches(doc, SearchCriteria(name="BUD"))
    assert matches(doc, SearchCriteria(name="get 20", name_match="substring", tags=("q4",)))
    assert not matches(doc, SearchCriteria(name="get 20", name_match="prefix"))
    assert not matches(doc, SearchCriteria(tags=("q4", "hr")))
    assert not matches(doc, SearchCriteria(created_to=AT))  # `to` is exclusive
    assert matches(doc, SearchCriteria(created_from=AT, content_type="text/csv"))
    assert not matches({**doc, "trashed": True}, SearchCriteria(name="bud"))


def test_compare() -> None:
    docs = [
        {"_id": "d1", "path": "/", "name": "a.txt", "sha256": "s1", "current_version": 1, "modified_at": AT},
        {"_id": "d2", "path": "/x", "name": "b.txt", "sha256": "s2", "current_version": 3, "modified_at": AT},
        {"_id": "d3", "path": "/x", "name": "c.txt", "sha256": "s3", "current_version": 1, "modified_at": AT},
    ]
    answers, only = compare([("/a.txt", "s1"), ("/x/b.txt", "old"), ("/new.txt", "s9")], docs)
    assert [a["status"] for a in answers] == ["same", "server_newer", "unknown_on_server"]
    assert answers[1] == {
        "path": "/x/b.txt",
        "status": "server_newer",
        "document_id": "d2",
        "version": 3,
        "sha256": "s2",
    }
    assert only == [{"path": "/x/c.txt", "document_id": "d3", "version": 1, "sha256": "s3"}]
