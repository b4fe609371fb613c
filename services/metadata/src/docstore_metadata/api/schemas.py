"""Request and response bodies of metadata's routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

from docstore_kit.pagination import Page
from docstore_kit.text import Text

_UNSAFE_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")
MAX_ID = 200


def safe_id(value: str) -> str:
    """An id taken from a path: no control characters (C0, DEL, C1) and no slashes. DocStore's ids never
    hold them; refusing them up front (422) keeps them out of queries, logs and upstream URLs."""
    if _UNSAFE_IN_ID.search(value):
        raise ValueError("must not contain control characters or slashes")
    return value


DocumentIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="A document id, as DocStore returned it"),
    AfterValidator(safe_id),
]
AccountIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="An account id, as DocStore returned it"),
    AfterValidator(safe_id),
]
MAX_VERSION = 1_000_000_000
"""The highest version number a request may name: far above any history, far below 2**63."""
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number (1 is the first)")]


class FullTextOut(BaseModel):
    """Where the document's full text stands (`domain.full_text`)."""

    state: Literal["pending", "indexed", "failed", "not_indexed"] = Field(
        description="`indexed`: its words are found by full-text search; `pending`: not yet (just uploaded, "
        "or waiting for the indexing after an upgrade); `failed`: its text could not be read (`reason`, "
        "`advice`); `not_indexed`: the owner is on Free, where documents are found by name, tags and dates"
    )
    reason: str | None = Field(
        None,
        description="Why the text could not be read, in the indexer's precise words",
        examples=["encrypted PDF (needs a password)"],
    )
    detail: str | None = Field(
        None,
        description="The state said for people (a failure without error classes or byte counts)",
        examples=["It is protected with a password, so its words could not be read."],
    )
    advice: str | None = Field(
        None, description="What the person can do about it", examples=["Remove the password and upload it again."]
    )


class PreviewStateOut(BaseModel):
    """The current version's preview: `pending` (being made), `ready` (ask
    `GET /documents/{id}/versions/{n}/preview?size=small|large` for a signed URL) or `failed`
    (`reason`; "unsupported type" for a type without a renderer: show a typed icon)."""

    state: Literal["pending", "ready", "failed"]
    reason: str | None = Field(None, examples=["unsupported type"])


class DocumentOut(BaseModel):
    document_id: str
    name: str
    title: str | None
    tags: list[str]
    path: str
    content_type: str
    size: int
    sha256: str
    version: int
    created_at: datetime
    modified_at: datetime
    trashed: bool = False
    trashed_at: datetime | None = None
    full_text: FullTextOut | None = None
    preview: PreviewStateOut | None = None


class DocumentPage(Page[DocumentOut]):
    """A page of documents (the shared page shape of `docstore_kit.pagination`)."""


class VersionOut(BaseModel):
    version: int
    restored_from: int | None = Field(None, description="The version this one restored (same bytes, same S3 object)")
    size: int
    sha256: str
    etag: str
    content_type: str
    created_at: datetime


class VersionPage(Page[VersionOut]):
    """A page of a document's versions, newest first."""


class DownloadOut(BaseModel):
    url: str
    expires_in: int


class DetailsIn(BaseModel):
    name: Text | None = Field(None, max_length=1024, examples=["report.pdf"])
    tags: list[Text] | None = Field(None, max_length=200)
    path: Text | None = Field(None, max_length=4096, examples=["/reports/2026"])
    on_clash: Literal["replace", "keep_both", "skip"] | None = Field(
        None,
        description="What to do when a document or folder already holds the name there (else 409 with "
        "`clash`, `choices` and `keep_both_name`): `replace` (this document's bytes become that document's newest "
        "version and this one is gone: the answer is that document), "
        "`keep_both` (this one takes `keep_both_name`), `skip` (nothing changes)",
    )


class ChangeOut(BaseModel):
    seq: int
    kind: Literal[
        "created",
        "modified",
        "renamed",
        "moved",
        "tagged",
        "trashed",
        "restored",
        "deleted",
        "conflict",
        "folder-created",
        "folder-renamed",
        "folder-moved",
        "folder-trashed",
        "folder-restored",
    ]
    document_id: str | None = Field(description="null for a folder's entry (`folder-*`)")
    folder_id: str | None = Field(None, description="For a folder's entry: the folder")
    from_path: str | None = Field(
        None, description="For `folder-renamed`, `folder-moved`, `folder-restored`: the folder's path before"
    )
    path: str
    name: str
    version: int | None
    sha256: str | None
    at: datetime
    conflict_of: str | None = Field(None, description="For `conflict`: the document whose newer version won")


class ChangesOut(Page[ChangeOut]):
    """A page of the change feed, oldest first. A feed has no last page: `next_cursor` is always the
    position after the last entry handed out, to poll from next time (with `wait` to long-poll)."""


class ClientFile(BaseModel):
    path: Text = Field(min_length=2, max_length=2048, examples=["/reports/q1.pdf"])
    sha256: Text = Field(min_length=1, max_length=128)


class CompareIn(BaseModel):
    files: list[ClientFile] = Field(max_length=5000)


class CompareResult(BaseModel):
    path: str
    status: Literal["same", "server_newer", "unknown_on_server"]
    document_id: str | None = None
    version: int | None = None
    sha256: str | None = None


class ServerOnly(BaseModel):
    path: str
    document_id: str
    version: int
    sha256: str


class CompareOut(BaseModel):
    files: list[CompareResult]
    only_on_server: list[ServerOnly]


class InternalDocumentOut(BaseModel):
    document_id: str
    owner_id: str
    access: str
    current_version: int
    name: str
    content_type: str
    path: str
    trashed: bool
    current_bucket: str | None = None
    current_key: str | None = None
    """The current version's object (upload plans a delta upload against it)."""
    current_size: int | None = None
    current_sha256: str | None = None


class PlaceIn(BaseModel):
    path: Text = Field(max_length=1024)
    name: Text = Field(max_length=1024)


class PlacesIn(BaseModel):
    places: list[PlaceIn] = Field(max_length=1000)


class TakenPlaceOut(PlaceIn):
    document_id: str


class TakenOut(BaseModel):
    """The asked places a live document of the account holds (upload refuses a second: 409)."""

    taken: list[TakenPlaceOut]


class InternalBytesOut(BaseModel):
    """A version of the account's own documents holding the asked bytes (upload's dedupe)."""

    document_id: str
    version: int
    bucket: str
    key: str
    size: int
    sha256: str


class ShareIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    permission: Literal["view", "edit"] = "view"


class ShareOut(BaseModel):
    document_id: str
    grantee_id: str
    username: str | None = None
    permission: str


class PersonOut(BaseModel):
    """A person the share dialog may suggest (`GET /people`)."""

    username: str
    known: bool = Field(description="the caller already shares with this person (either way)")
    shareable: bool = Field(description="a document of this region can be shared with them")
    note: str | None = Field(default=None, description="why not, in words, when not shareable")


class PeopleOut(BaseModel):
    """At most 8 suggestions: a short answer, not a list to page through."""

    people: list[PersonOut]


class SharedDocumentOut(BaseModel):
    document_id: str
    owner_id: str
    owner_username: str | None = None
    """Who shared it (issue 37): the owner's username; null only for an account metadata does not know."""
    permission: str
    name: str
    version: int
    size: int
    content_type: str
    modified_at: datetime
    preview: PreviewStateOut | None = None
    """The current version's preview state, as on the owner's listing (issue 21: a viewer sees previews)."""


class FollowOut(BaseModel):
    document_id: str
    owner_id: str
    created_at: datetime


class SharePage(Page[ShareOut]):
    """A page of a document's shares, oldest first."""


class SharedPage(Page[SharedDocumentOut]):
    """A page of the documents shared with the caller, newest share first."""


class FollowPage(Page[FollowOut]):
    """A page of the documents the caller follows, newest first."""


FolderIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="A folder id, as DocStore returned it"),
    AfterValidator(safe_id),
]


class FolderOut(BaseModel):
    folder_id: str
    path: str = Field(examples=["/reports/2026"])
    parent: str = Field(examples=["/reports"])
    name: str = Field(examples=["2026"])
    created_at: datetime
    trashed: bool
    trashed_at: datetime | None = None
    moving: bool = Field(
        False, description="Its documents are still being moved (or trashed, restored) in the background"
    )


class PathOut(BaseModel):
    """What lives at a path: a folder or a document, the other one null."""

    folder: FolderOut | None = None
    document: DocumentOut | None = None


class FolderPage(Page[FolderOut]):
    """A page of folders, by name."""


class FolderIn(BaseModel):
    parent: Text = Field("/", max_length=4096, examples=["/reports"])
    name: Text = Field(max_length=1024, examples=["2026"])


class FolderChangeIn(BaseModel):
    name: Text | None = Field(None, max_length=1024, examples=["2026 (final)"])
    parent: Text | None = Field(None, max_length=4096, examples=["/archive"])
    on_clash: Literal["replace", "keep_both", "skip"] | None = Field(
        None,
        description="What to do when a document or folder already holds the name in the destination "
        "(else 409 with `clash`, `choices` and `keep_both_name`): `keep_both` or `skip` (a folder is never "
        "replaced, nor replaces a document)",
    )
