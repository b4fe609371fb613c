"""The pure sync plan: every combination of local, remote and last-synced state."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime

import pytest

from docstore_sync.domain.ignore import IgnoreRules
from docstore_sync.domain.plan import BaseFile, Kind, RemoteFile, conflict_copy_name, conflict_copy_path, plan_sync

NOW = datetime(2026, 11, 22, 14, 32, tzinfo=UTC)
A, B, C = "a" * 64, "b" * 64, "c" * 64


def remote(sha: str, version: int = 1, doc: str = "d1") -> RemoteFile:
    return RemoteFile(doc, version, sha)


def base(sha: str, version: int = 1, doc: str = "d1") -> BaseFile:
    return BaseFile(sha, doc, version)


def kinds(plan) -> dict[str, Kind]:
    return {a.path: a.kind for a in plan.actions}


def test_first_sync_uploads_what_is_only_here_and_downloads_what_is_only_there():
    plan = plan_sync({"here.txt": A}, {"there.txt": remote(B)}, {}, NOW)
    assert kinds(plan) == {"here.txt": Kind.UPLOAD_NEW, "there.txt": Kind.DOWNLOAD}


def test_first_sync_same_bytes_on_both_sides_moves_nothing_and_records_them():
    plan = plan_sync({"x.txt": A}, {"x.txt": remote(A)}, {}, NOW)
    assert kinds(plan) == {"x.txt": Kind.RECORD}
    assert not any(a.transfers for a in plan.actions)


def test_first_sync_different_bytes_on_both_sides_is_a_conflict():
    plan = plan_sync({"x.txt": A}, {"x.txt": remote(B)}, {}, NOW)
    (action,) = plan.actions
    assert action.kind is Kind.CONFLICT
    assert action.conflict_path == "x (conflict copy 2026-11-22 1432).txt"


def test_nothing_changed_plans_nothing():
    plan = plan_sync({"x.txt": A}, {"x.txt": remote(A)}, {"x.txt": base(A)}, NOW)
    assert plan.actions == [] and plan.forget == []


@pytest.mark.parametrize(
    ("local", "remote_sha", "expected"),
    [
        (B, A, Kind.UPLOAD_VERSION),  # edited here
        (None, A, Kind.TRASH_REMOTE),  # deleted here
        (A, B, Kind.DOWNLOAD),  # edited there
        (A, None, Kind.DELETE_LOCAL),  # deleted there
        (B, C, Kind.CONFLICT),  # edited on both sides differently
        (None, B, Kind.DOWNLOAD),  # deleted here, edited there: the edit wins
        (B, None, Kind.UPLOAD_NEW),  # edited here, deleted there: the edit wins, as a new document
        (B, B, Kind.RECORD),  # the same edit on both sides
    ],
)
def test_changes_since_the_last_sync(local, remote_sha, expected):
    plan = plan_sync(
        {"x.txt": local} if local else {},
        {"x.txt": remote(remote_sha, 2)} if remote_sha else {},
        {"x.txt": base(A)},
        NOW,
    )
    assert kinds(plan) == {"x.txt": expected}


def test_deleted_on_both_sides_is_forgotten():
    plan = plan_sync({}, {}, {"x.txt": base(A)}, NOW)
    assert plan.actions == [] and plan.forget == ["x.txt"]


def test_upload_version_is_based_on_the_remote_version_seen():
    plan = plan_sync({"x.txt": B}, {"x.txt": remote(A, 7)}, {"x.txt": base(A, 7)}, NOW)
    (action,) = plan.actions
    assert action.kind is Kind.UPLOAD_VERSION and action.remote == remote(A, 7)


def test_a_local_rename_is_a_move_of_the_document():
    plan = plan_sync({"new.txt": A}, {"old.txt": remote(A)}, {"old.txt": base(A)}, NOW)
    (action,) = plan.actions
    assert (action.kind, action.source, action.path, action.remote) == (
        Kind.MOVE_REMOTE,
        "old.txt",
        "new.txt",
        remote(A),
    )


def test_a_remote_rename_is_a_local_move():
    plan = plan_sync({"old.txt": A}, {"new.txt": remote(A)}, {"old.txt": base(A)}, NOW)
    (action,) = plan.actions
    assert (action.kind, action.local_path, action.path) == (Kind.MOVE_LOCAL, "old.txt", "new.txt")


def test_a_remote_rename_of_a_file_edited_here_moves_it_and_uploads_the_edit():
    plan = plan_sync({"old.txt": B}, {"new.txt": remote(A)}, {"old.txt": base(A)}, NOW)
    assert [(a.kind, a.path) for a in plan.actions] == [(Kind.MOVE_LOCAL, "new.txt"), (Kind.UPLOAD_VERSION, "new.txt")]


def test_two_new_copies_of_a_renamed_file_are_not_guessed_as_a_move():
    plan = plan_sync({"n1.txt": A, "n2.txt": A}, {"old.txt": remote(A)}, {"old.txt": base(A)}, NOW)
    assert kinds(plan) == {"n1.txt": Kind.UPLOAD_NEW, "n2.txt": Kind.UPLOAD_NEW, "old.txt": Kind.TRASH_REMOTE}


def test_a_rename_on_both_sides_to_different_names_keeps_both_names():
    plan = plan_sync({"mine.txt": A}, {"theirs.txt": remote(A)}, {"old.txt": base(A)}, NOW)
    assert kinds(plan) == {"mine.txt": Kind.UPLOAD_NEW, "theirs.txt": Kind.DOWNLOAD}
    assert plan.forget == ["old.txt"]


def test_a_version_bump_with_the_same_bytes_is_recorded():
    plan = plan_sync({"x.txt": A}, {"x.txt": remote(A, 3)}, {"x.txt": base(A, 2)}, NOW)
    assert kinds(plan) == {"x.txt": Kind.RECORD}


def test_conflict_copy_names_follow_the_servers():
    assert conflict_copy_name("report.pdf", NOW) == "report (conflict copy 2026-11-22 1432).pdf"
    assert conflict_copy_name("README", NOW) == "README (conflict copy 2026-11-22 1432)"
    assert conflict_copy_name(".profile", NOW) == ".profile (conflict copy 2026-11-22 1432)"
    long = conflict_copy_name("x" * 300 + ".txt", NOW)
    assert len(long) == 255 and long.endswith(" (conflict copy 2026-11-22 1432).txt")


def test_conflict_copy_path_stays_in_the_folder_and_avoids_taken_names():
    first = conflict_copy_path("a/b/r.txt", NOW, set())
    assert first == "a/b/r (conflict copy 2026-11-22 1432).txt"
    assert conflict_copy_path("a/b/r.txt", NOW, {first}) == "a/b/r (conflict copy 2026-11-22 1432) 2.txt"


def test_two_conflicts_on_one_name_in_one_run_get_distinct_copies():
    plan = plan_sync(
        {"r.txt": A, "r (conflict copy 2026-11-22 1432).txt": C},
        {"r.txt": remote(B)},
        {"r.txt": base(C)},
        NOW,
    )
    action = next(a for a in plan.actions if a.kind is Kind.CONFLICT)
    assert action.conflict_path == "r (conflict copy 2026-11-22 1432) 2.txt"


def test_many_files_each_decided_on_its_own():
    local = {f"f{i}.txt": A for i in range(100)}
    remote_files = {f"f{i}.txt": remote(A, doc=f"d{i}") for i in range(50, 150)}
    base_files = {f"f{i}.txt": base(A, doc=f"d{i}") for i in range(50, 100)}
    plan = plan_sync(local, remote_files, base_files, NOW)
    counts = plan.counts()
    assert counts == {"upload-new": 50, "download": 50}


# --- ignore rules ---------------------------------------------------------------------------


def test_ignore_rules_use_gitignore_syntax():
    rules = IgnoreRules.from_text("*.tmp\nbuild/\n!keep.tmp\n/top-only.txt\n# a comment\n")
    assert rules.ignored("x.tmp") and rules.ignored("deep/down/x.tmp")
    assert not rules.ignored("keep.tmp")
    assert rules.ignored("build/out.bin") and rules.ignored("src/build/out.bin")
    assert rules.ignored("top-only.txt") and not rules.ignored("sub/top-only.txt")
    assert not rules.ignored("notes.txt")


def test_the_clients_own_folder_is_always_ignored():
    rules = IgnoreRules.from_text("")
    assert rules.ignored(".docstore/state.db")
    assert rules.ignored("x.docstore-part")
    assert not rules.ignored(".docstoreignore")


def test_ignored_paths_are_left_out_of_the_plan():
    rules = IgnoreRules.from_text("*.log")
    local = rules.keep({"a.log": A, "b.txt": B})
    remote_files = rules.keep({"c.log": remote(C)})
    plan = plan_sync(local, remote_files, {}, NOW)  # type: ignore[arg-type]
    assert kinds(plan) == {"b.txt": Kind.UPLOAD_NEW}


# --- issue 34: each finding is a rule ---------------------------------------------------------
NFC = unicodedata.normalize("NFC", "résumé.txt")
NFD = unicodedata.normalize("NFD", "résumé.txt")
EMPTY = hashlib.sha256(b"").hexdigest()


def steps(plan) -> list[tuple[Kind, str]]:
    return [(a.kind, a.path) for a in plan.actions]


def test_finding_1_the_same_name_in_nfd_here_and_nfc_there_is_one_file_and_a_conflict():
    """The desktop's NFD résumé.txt against the laptop's NFC one: a conflict (both texts kept),
    not a second document and a download over the desktop's file."""
    plan = plan_sync({NFD: B}, {NFC: remote(A)}, {}, NOW, "desktop")
    (action,) = plan.actions
    assert action.kind is Kind.CONFLICT and action.path == NFC and action.local_path == NFD
    assert action.conflict_path == unicodedata.normalize(
        "NFC", "résumé (conflict copy from desktop 2026-11-22 1432).txt"
    )


def test_finding_1_a_file_synced_under_its_nfd_spelling_is_at_rest():
    plan = plan_sync({NFD: A}, {NFC: remote(A)}, {NFC: base(A)}, NOW)
    assert plan.actions == [] and plan.forget == []


def test_finding_2_two_spellings_of_one_name_on_one_device_are_a_conflict_never_merged():
    plan = plan_sync({NFC: A, NFD: B}, {}, {}, NOW, "laptop")
    copy = unicodedata.normalize("NFC", "résumé (conflict copy from laptop 2026-11-22 1432).txt")
    assert steps(plan) == [(Kind.RENAME_LOCAL, copy), (Kind.UPLOAD_NEW, copy), (Kind.UPLOAD_NEW, NFC)]
    assert plan.actions[0].local_path == NFD  # the NFC one keeps the name; the other moves aside


def test_finding_3_a_file_that_became_a_folder_here_while_edited_there_settles_in_one_sync():
    """Laptop: x.txt replaced by the folder x.txt/; the desktop's edit of x.txt reached the
    server first. The edited document moves aside to a conflict name (on the server, then comes
    down); nothing is downloaded into x.txt."""
    plan = plan_sync({"x.txt/inside.txt": C}, {"x.txt": remote(B, 2)}, {"x.txt": base(A)}, NOW, "laptop")
    copy = "x (conflict copy from laptop 2026-11-22 1432).txt"
    assert steps(plan) == [(Kind.MOVE_REMOTE, copy), (Kind.DOWNLOAD, copy), (Kind.UPLOAD_NEW, "x.txt/inside.txt")]


def test_finding_3_the_other_device_with_its_edit_moves_its_file_aside_and_takes_the_folder():
    """Desktop: edited x.txt; the server now holds x.txt/inside.txt and x.txt is in the trash."""
    plan = plan_sync({"x.txt": B}, {"x.txt/inside.txt": remote(C, doc="d2")}, {"x.txt": base(A)}, NOW, "desktop")
    copy = "x (conflict copy from desktop 2026-11-22 1432).txt"
    assert steps(plan) == [(Kind.RENAME_LOCAL, copy), (Kind.UPLOAD_NEW, copy), (Kind.DOWNLOAD, "x.txt/inside.txt")]


def test_finding_3_a_folder_that_became_a_file_here_while_a_file_inside_was_edited_there():
    plan = plan_sync({"d": C}, {"d/a.txt": remote(B, 2)}, {"d/a.txt": base(A)}, NOW, "laptop")
    copy = "d (conflict copy from laptop 2026-11-22 1432)"
    assert steps(plan) == [(Kind.RENAME_LOCAL, copy), (Kind.UPLOAD_NEW, copy), (Kind.DOWNLOAD, "d/a.txt")]


def test_finding_3_a_file_leaves_before_a_folder_of_its_name_arrives():
    plan = plan_sync({"x.txt": A}, {"x.txt/inside.txt": remote(C, doc="d2")}, {"x.txt": base(A)}, NOW)
    assert [[(a.kind, a.path) for a in phase] for phase in plan.phases()] == [
        [(Kind.DELETE_LOCAL, "x.txt")],
        [(Kind.DOWNLOAD, "x.txt/inside.txt")],
    ]


def test_finding_3_parents_come_before_children_in_each_phase():
    plan = plan_sync(
        {}, {"a/b/c.txt": remote(A, doc="1"), "a.txt": remote(B, doc="2"), "a/b.txt": remote(C, doc="3")}, {}, NOW
    )
    assert [a.path for a in plan.actions] == ["a.txt", "a/b.txt", "a/b/c.txt"]


def test_finding_4_truncating_a_file_to_zero_bytes_is_an_edit():
    plan = plan_sync({"x.txt": EMPTY}, {"x.txt": remote(A)}, {"x.txt": base(A)}, NOW)
    assert steps(plan) == [(Kind.UPLOAD_VERSION, "x.txt")]


def test_finding_5_an_empty_local_folder_holds_its_name_against_a_file_from_the_server():
    plan = plan_sync({}, {"empty": remote(A)}, {}, NOW, "laptop", folders={"empty"})
    copy = "empty (conflict copy from laptop 2026-11-22 1432)"
    assert steps(plan) == [(Kind.MOVE_REMOTE, copy), (Kind.DOWNLOAD, copy)]
