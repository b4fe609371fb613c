import unicodedata

import pytest

from docstore_events.names import MAX_NAME, MAX_PATH, MAX_TAG, MAX_TAGS, InvalidName, check_name, check_path, check_tags


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * (MAX_NAME + 1), f"at most {MAX_NAME} characters"),
        ("a/b.pdf", "must not contain '/' or '\\\\'"),
        ("a\\b", "must not contain '/' or '\\\\'"),
        (".", "must not be '.' or '..'"),
        (" .. ", "must not be '.' or '..'"),
        ("bad\x00name", "must not contain control characters$"),
        ("tab\tname", "must not contain control characters$"),
    ],
)
def test_bad_names_are_refused_with_a_message_naming_the_field(name: str, problem: str) -> None:
    with pytest.raises(InvalidName, match=f"^name: {problem}") as caught:
        check_name(name)
    assert caught.value.field == "name"
    assert isinstance(caught.value, ValueError)


def test_the_caller_names_the_field() -> None:
    with pytest.raises(InvalidName, match="^filename: must not be empty$"):
        check_name("", field="filename")


@pytest.mark.parametrize("name", ["report.pdf", "Résumé 2026.docx", "notes.v2.md", "a..b.txt", "...", "日本語.txt"])
def test_ordinary_names_pass_unchanged(name: str) -> None:
    assert check_name(name) == name


def test_names_are_trimmed_and_nfc_and_the_limit_counts_nfc_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "Résumé.pdf")
    assert check_name(f"  {decomposed} ") == "Résumé.pdf"
    # 255 composed characters, longer than the limit while still decomposed: accepted.
    long = "é" * MAX_NAME
    assert check_name(unicodedata.normalize("NFD", long)) == long


def test_paths_are_absolute_normalised_and_cannot_climb() -> None:
    assert check_path("/a//b/") == "/a/b"
    assert check_path("  /a/b  ") == "/a/b"
    assert check_path("") == "/"
    assert check_path("/") == "/"
    assert check_path("/a/.../b") == "/a/.../b"
    with pytest.raises(InvalidName, match="^path: must start with '/'"):
        check_path("a/b")
    with pytest.raises(InvalidName, match=f"^path: at most {MAX_PATH} characters"):
        check_path("/" + "x" * MAX_PATH)
    for bad in ("/a/../b", "/./x", "/a/..", "/a\x07"):
        with pytest.raises(InvalidName, match="^path: must not contain '.' or '..' segments or control characters"):
            check_path(bad)


def test_tags_are_trimmed_deduplicated_sorted_and_bounded() -> None:
    assert check_tags([" b", "a", "b "]) == ["a", "b"]
    assert check_tags(iter(["x"])) == ["x"]
    assert check_tags(["t" * MAX_TAG]) == ["t" * MAX_TAG]
    # The count is taken before duplicates are dropped.
    with pytest.raises(InvalidName, match=f"^tags: at most {MAX_TAGS}$"):
        check_tags(["t"] * (MAX_TAGS + 1))
    for bad in ("", "  ", "t" * (MAX_TAG + 1), "a\nb"):
        with pytest.raises(InvalidName, match=f"^tags: each tag is 1 to {MAX_TAG} printable characters$"):
            check_tags([bad])
