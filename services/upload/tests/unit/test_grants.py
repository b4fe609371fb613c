import pytest

from docstore_upload.domain.grants import (
    InvalidUpload,
    NoRoom,
    check_content_type,
    check_filename,
    check_path,
    check_size,
    check_tags,
    object_key,
)


@pytest.mark.parametrize("name", ["a/b.pdf", "..", ".", "a\\b", "bad\x00name", "tab\tname", "", "   ", "x" * 256])
def test_bad_filenames_are_refused(name: str) -> None:
    with pytest.raises(InvalidUpload) as caught:
        check_filename(name)
    # Words for people in the message; the field at fault beside it, for programs.
    assert caught.value.field == "filename" and "filename" not in str(caught.value)
    assert caught.value.extra() == {"field": "filename"}


@pytest.mark.parametrize("name", ["report.pdf", "Résumé 2026.docx", "notes.v2.md", "a..b.txt", "日本語.txt"])
def test_ordinary_filenames_pass(name: str) -> None:
    assert check_filename(name) == name


def test_sizes_must_not_be_negative_and_fit_the_room() -> None:
    with pytest.raises(InvalidUpload, match="^A file's size can't be negative") as caught:
        check_size(-1, 100)
    assert caught.value.field == "size"
    check_size(0, 0)  # an empty file is a file (issue 34), and takes no room
    with pytest.raises(NoRoom, match=r"^This file is 101 bytes but only 100 bytes is left\.") as refused:
        check_size(101, 100)
    assert refused.value.extra() == {"needed_bytes": 101, "available_bytes": 100}
    check_size(100, 100)


def test_content_types_are_an_allow_list() -> None:
    assert check_content_type("Application/PDF") == "application/pdf"
    with pytest.raises(InvalidUpload, match="^Files of type 'application/x-made-up' can't be stored") as caught:
        check_content_type("application/x-made-up")
    assert caught.value.field == "content_type"


def test_tags_are_trimmed_deduplicated_and_bounded() -> None:
    assert check_tags([" b", "a", "b "]) == ["a", "b"]
    with pytest.raises(InvalidUpload):
        check_tags([""])
    with pytest.raises(InvalidUpload):
        check_tags(["t"] * 51)


def test_paths_are_absolute_and_cannot_climb() -> None:
    assert check_path("/a//b/") == "/a/b"
    assert check_path("") == "/"
    for bad in ("a/b", "/a/../b", "/./x", "/a\x07"):
        with pytest.raises(InvalidUpload) as caught:
            check_path(bad)
        assert caught.value.field == "path"


def test_the_server_builds_the_key_from_ids() -> None:
    assert object_key(region="r", account_id="a", document_id="d", upload_id="u") == "r/a/d/u"
