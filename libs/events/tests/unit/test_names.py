import unicodedata

import pytest

from docstore_events.names import MAX_NAME, MAX_PATH, MAX_TAG, MAX_TAGS, InvalidName, check_name, check_path, check_tags


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A name can't be empty."),
        ("   ", "A name can't be empty."),
        ("x" * (MAX_NAME + 1), f"A name can be at most {MAX_NAME} characters long."),
        ("a/b.pdf", "A name can't contain '/' or '\\'. To move the file into a folder, choose Move."),
        ("a\\b", "A name can't contain '/' or '\\'. To move the file into a folder, choose Move."),
        (".", "A name can't be '.' or '..'."),
        (" .. ", "A name can't be '.' or '..'."),
        ("bad\x00name", "A name can't contain control characters such as line breaks or tabs."),
        ("tab\tname", "A name can't contain control characters such as line breaks or tabs."),
    ],
)
def test_bad_names_are_refused_in_words_for_people_and_the_field_beside_them(name: str, message: str) -> None:
    with pytest.raises(InvalidName) as caught:
        check_name(name)
    assert str(caught.value) == message
    assert caught.value.field == "name"
    assert isinstance(caught.value, ValueError)


def test_the_caller_names_the_field_and_only_a_rename_is_pointed_at_move() -> None:
    with pytest.raises(InvalidName) as caught:
        check_name("", field="filename")
    assert caught.value.field == "filename" and str(caught.value) == "A name can't be empty."
    with pytest.raises(InvalidName) as caught:
        check_name("a/b.pdf", field="filename")
    assert str(caught.value) == "A name can't contain '/' or '\\'."


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
    with pytest.raises(InvalidName, match="^A folder path starts with '/'"):
        check_path("a/b")
    with pytest.raises(InvalidName, match=f"^A folder path can be at most {MAX_PATH} characters long\\.$"):
        check_path("/" + "x" * MAX_PATH)
    for bad in ("/a/../b", "/./x", "/a/..", "/a\x07"):
        with pytest.raises(
            InvalidName, match="^A folder can't be called '.' or '..', and a path can't contain control characters"
        ):
            check_path(bad)


def test_tags_are_trimmed_deduplicated_sorted_and_bounded() -> None:
    assert check_tags([" b", "a", "b "]) == ["a", "b"]
    assert check_tags(iter(["x"])) == ["x"]
    assert check_tags(["t" * MAX_TAG]) == ["t" * MAX_TAG]
    # The count is taken before duplicates are dropped.
    with pytest.raises(InvalidName, match=f"^A document can have at most {MAX_TAGS} tags\\.$"):
        check_tags(["t"] * (MAX_TAGS + 1))
    for bad in ("", "  ", "t" * (MAX_TAG + 1), "a\nb"):
        with pytest.raises(
            InvalidName, match=f"^Each tag is 1 to {MAX_TAG} characters, with no control characters\\.$"
        ):
            check_tags([bad])


# --- names that display as they are (issue 33, finding 4) --------------------------------------

BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)]
OTHER_INVISIBLE = ["\u200b", "\ufeff", "\u00ad", "\u2060", "\U000e0041"]  # ZWSP, BOM, soft hyphen, WJ, tag A


@pytest.mark.parametrize("mark", BIDI + OTHER_INVISIBLE)
def test_invisible_format_characters_are_refused_in_names_tags_and_folders(mark: str) -> None:
    for check, value in (
        (check_name, f"{mark}txt.exe"),
        (check_path, f"/Invoices/{mark}2026"),
        (lambda v: check_tags([v]), f"urgent{mark}"),
    ):
        with pytest.raises(InvalidName) as refused:
            check(value)
        assert f"U+{ord(mark):04X}" in str(refused.value) and "invisible" in str(refused.value)


def test_scripts_that_need_joiners_and_right_to_left_names_are_welcome() -> None:
    assert check_name("می\u200cخواهم.txt") == "می\u200cخواهم.txt"  # Persian with a zero-width non-joiner
    assert check_name("\U0001f469\u200d\U0001f4bb notes.md") == "\U0001f469\u200d\U0001f4bb notes.md"
    assert check_name("שלום.pdf") == "שלום.pdf" and check_path("/تقارير/2026") == "/تقارير/2026"
    assert check_tags(["עברית"]) == ["עברית"]


def test_every_folder_follows_the_file_name_rules() -> None:
    with pytest.raises(InvalidName, match=r"'\\'"):
        check_path("/Reports\\2026")
    with pytest.raises(InvalidName, match="at most 255"):
        check_path("/" + "a" * 256)
    assert check_path("/" + "a" * 255 + "/b") == "/" + "a" * 255 + "/b"
