"""Upload's HTTP routes: grants, multipart parts, completion, abort, the browser's landing page."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from docstore_kit.auth import CurrentAccountId, Identity, require_identity
from docstore_kit.errors import PROBLEM_TYPE_PREFIX, DomainError, problem_responses
from docstore_kit.sizes import size_text
from docstore_kit.text import Text
from docstore_upload.api.deps import BatchCompletionDep, BatchGrantsDep, CompletionDep, EndingsDep, GrantsDep
from docstore_upload.domain.delta import MAX_CHUNKS, Chunk
from docstore_upload.domain.grants import MAX_BATCH, GrantRequest, check_batch
from docstore_upload.domain.multipart import MAX_OBJECT, MAX_PARTS, session_layout
from docstore_upload.domain.sessions import SENDING_SERVICE, VERIFYING, SentBytes, Session, shown_status
from docstore_upload.service_layer.common import IssuedGrant

MAX_VERSION = 1_000_000_000
MAX_DECLARED_SIZE = 10**18
"""quota's bound on a reservation (far above any cap, inside MongoDB's 64-bit integers): a size
under it gets the room's own answer (413 "This file is 10 TB but only ..."), one above a 422."""
"""As metadata's version numbers (`VersionPath`): far above any document's history, far below 2**63."""

# Ids and signatures are ours, URL-safe ASCII: anything else (control characters, other scripts)
# is refused before it reaches a lookup or a comparison.
UploadIdPath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The upload's id")]
SignaturePath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

router = APIRouter(tags=["uploads"])


class ChunkIn(BaseModel):
    offset: int = Field(ge=0, le=MAX_OBJECT)
    length: int = Field(gt=0, le=MAX_OBJECT)
    sha256: Text = Field(pattern=r"^[0-9a-fA-F]{64}$")


class GrantIn(BaseModel):
    filename: Text = Field(max_length=1024, examples=["report.pdf"])
    size: int = Field(
        ge=0, le=MAX_DECLARED_SIZE, description="Bytes the file has; S3 accepts no more", examples=[52431]
    )
    content_type: Text = Field(max_length=255, examples=["application/pdf"])
    title: Text | None = Field(default=None, max_length=512)
    tags: list[Text] = Field(default_factory=list)
    path: Text = Field(default="/", description="Folder the document lives in", max_length=2048)
    document_id: Text | None = Field(default=None, description="Upload a new version of this document")
    base_version: int | None = Field(
        default=None, ge=0, le=MAX_VERSION, description="With document_id: the version your change starts from"
    )
    browser: bool = Field(default=False, description="S3 redirects to a completion page instead of answering 201")
    multipart: bool | None = Field(
        default=None, description="Force (true) or refuse (false) multipart; default by size"
    )
    expires_in: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description="Seconds the form or part URLs stay valid (at most the default)",
    )
    put: bool = Field(
        default=False,
        description="A batch item with `sha256`: answer a presigned PUT pinned to those bytes (`put`: its URL "
        "and the headers to send) instead of a form; S3 refuses other bytes (400) or other headers (403)",
    )
    sha256: Text | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="The file's sha256. When the account already stores these bytes, nothing is sent: the "
        "answer is `deduplicated` and the upload already completed. Only the caller's own bytes are ever "
        "found; the recorded sha256 is always read by the server, never taken from here. In a batch item, "
        "the form is pinned to these bytes: S3 refuses any other (400 `BadDigest`)",
    )
    chunks: list[ChunkIn] | None = Field(
        default=None,
        max_length=MAX_CHUNKS,
        description="The file's content-defined chunks (FastCDC), in order from offset 0, with `sha256`. "
        "For a new version of a large file whose current version was sent with chunks too, the answer "
        "is a delta upload: parts the previous version holds are copied by the server, only the "
        "`multipart.parts` listed are to be sent. The chunks are checked against the stored bytes",
    )


class FormOut(BaseModel):
    url: str
    fields: dict[str, str]


class PartUrl(BaseModel):
    part_number: int
    url: str
    offset: int | None = Field(default=None, description="Where the part's bytes start in the file")
    size: int | None = Field(default=None, description="How many bytes the part holds")


class MultipartOut(BaseModel):
    part_size: int = Field(
        description="Every part but the last has exactly this many bytes (a delta upload: see each part's "
        "`offset` and `size`)"
    )
    part_count: int
    parts: list[PartUrl] = Field(description="PUT each part's bytes to its URL, in parallel if you like")
    copied_bytes: int = Field(
        default=0, description="A delta upload: bytes the server copied from the previous version (not listed)"
    )


class PutOut(BaseModel):
    url: str
    headers: dict[str, str]


class GrantOut(BaseModel):
    upload_id: str
    document_id: str
    key: str
    expires_at: datetime
    max_size: int
    form: FormOut | None = Field(default=None, description="POST these fields, then the file as `file`, to `url`")
    put: PutOut | None = Field(default=None, description="PUT the file's bytes to `url` with exactly these `headers`")
    multipart: MultipartOut | None = None
    deduplicated: bool = Field(
        default=False,
        description="The account already stores these bytes: the new version was made server-side and the "
        "upload is completed; nothing is to be sent",
    )


class StoredPartOut(BaseModel):
    part_number: int
    size: int


class PartsOut(BaseModel):
    upload_id: str
    part_size: int
    part_count: int
    stored: list[StoredPartOut]
    missing: list[PartUrl] = Field(description="Fresh URLs for the parts S3 does not have yet")


class UploadOut(BaseModel):
    upload_id: str
    document_id: str
    status: str = Field(
        description="pending, verifying (S3 joined the parts; size and sha256 are being read back), "
        "completed, expired, aborted or rejected"
    )
    size: int | None = None
    etag: str | None = None
    sha256: str | None = None
    recorded: bool | None = Field(
        default=None,
        description="Answers of POST /uploads/{upload_id}/complete only: true when the document (or its new "
        "version) is already readable by the caller (GET /documents/{document_id}, its download); false "
        "when it is not recorded yet: ask again after `Retry-After` seconds (about a second). Null elsewhere",
    )


def _upload_out(row: Session) -> UploadOut:
    stored = row.get("stored") or {}
    return UploadOut(
        upload_id=row["_id"],
        document_id=row["document_id"],
        status=shown_status(row),
        size=stored.get("size"),
        etag=stored.get("etag"),
        sha256=stored.get("sha256"),
    )


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for a signed S3 POST form or multipart part URLs",
    responses=problem_responses(409, 413),
)
async def create_grant(body: GrantIn, account_id: CurrentAccountId, grants: GrantsDep) -> GrantOut:
    return _grant_out(await grants.grant(account_id, _grant_request(body)))


def _grant_request(body: GrantIn) -> GrantRequest:
    return GrantRequest(
        filename=body.filename,
        size=body.size,
        content_type=body.content_type,
        title=body.title,
        tags=tuple(body.tags),
        path=body.path,
        document_id=body.document_id,
        base_version=body.base_version,
        browser=body.browser,
        multipart=body.multipart,
        expires_in=body.expires_in,
        sha256=body.sha256,
        put=body.put,
        chunks=tuple(Chunk(c.offset, c.length, c.sha256) for c in body.chunks or ()),
    )


def _part_url(number: int, url: str, layout: dict[int, tuple[int, int]]) -> PartUrl:
    offset, size = layout.get(number, (None, None))
    return PartUrl(part_number=number, url=url, offset=offset, size=size)


def _grant_out(issued: IssuedGrant) -> GrantOut:
    grant = issued.grant
    out = GrantOut(
        upload_id=grant.upload_id,
        document_id=grant.document_id,
        key=grant.key,
        expires_at=grant.expires_at,
        max_size=issued.max_size,
        deduplicated=issued.deduplicated,
    )
    if issued.form is not None:
        out.form = FormOut(url=issued.form["url"], fields=issued.form["fields"])
    if issued.put is not None:
        out.put = PutOut(url=issued.put["url"], headers=issued.put["headers"])
    if issued.part_urls is not None and issued.part_size is not None:
        layout = issued.layout or {}
        out.multipart = MultipartOut(
            part_size=issued.part_size,
            part_count=issued.part_count or len(issued.part_urls),
            parts=[_part_url(n, url, layout) for n, url in sorted(issued.part_urls.items())],
            copied_bytes=issued.copied_bytes,
        )
    return out


class BatchGrantIn(BaseModel):
    uploads: list[GrantIn] = Field(
        description=f"At most {MAX_BATCH} form uploads (files below the multipart threshold); "
        "more, or none, is a 422 that says so"
    )


class ItemProblem(BaseModel):
    """One item's refusal, as a single route's problem answers it: its members beyond these
    (`needed_bytes`, `upgrade_plan`, `field`...) follow, as there."""

    model_config = ConfigDict(extra="allow")

    status: int = Field(description="The HTTP status this item alone would have been answered with")
    type: str = Field(description="The problem type, as in a single route's problem+json answer")
    detail: Any = Field(description="What is wrong with this item")


class BatchGrantItem(BaseModel):
    index: int = Field(description="The item's position in the request")
    grant: GrantOut | None = None
    problem: ItemProblem | None = Field(default=None, description="Why this item was refused (no grant)")


class BatchGrantOut(BaseModel):
    results: list[BatchGrantItem] = Field(description="One per requested upload, in order")


class SentBytesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: Text = Field(pattern=r"^[0-9a-f]{64}$", description="The sha256 of the whole body sent")
    part_md5s: list[Annotated[Text, Field(pattern=r"^[0-9a-f]{32}$")]] = Field(
        min_length=1, max_length=MAX_PARTS, description="Each part's MD5, in part order"
    )


class BatchCompleteIn(BaseModel):
    upload_ids: list[Annotated[Text, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]] = Field(
        description=f"At most {MAX_BATCH} upload ids of the caller's (repeats are answered once)"
    )
    sent: dict[Annotated[Text, Field(max_length=64)], SentBytesIn] = Field(
        default_factory=dict,
        max_length=MAX_BATCH,
        description="DocStore's WebDAV service only (403 from any other caller): what it sent into a multipart "
        "upload, by upload id. Recorded at once, without reading the object back, when S3's checksum of every "
        "part agrees.",
    )


class BatchCompleteItem(BaseModel):
    upload_id: str
    upload: UploadOut | None = Field(default=None, description="The upload's state after the call")
    problem: ItemProblem | None = Field(default=None, description="Why this item was not completed")


class BatchCompleteOut(BaseModel):
    results: list[BatchCompleteItem]


def _problem(error: DomainError) -> ItemProblem:
    extra = {name: value for name, value in error.extra().items() if name not in ItemProblem.model_fields}
    return ItemProblem(status=error.status, type=PROBLEM_TYPE_PREFIX + error.problem, detail=error.detail(), **extra)


@router.post(
    "/uploads/batch",
    summary="Ask for many signed S3 POST forms at once",
    description=f"One request for up to {MAX_BATCH} form uploads: the room is reserved for them together "
    "(never more than the account has left in total) and each is answered on its own, in order: its grant, "
    "or its `problem` (bad name or type 422, no room 413, over quota 403, a file that needs a multipart "
    "upload 422: ask for it alone with POST /uploads). The request as a whole is refused only when it is "
    "malformed, holds no item or too many (422), or quota cannot be asked (503).",
)
async def create_grants(body: BatchGrantIn, account_id: CurrentAccountId, batches: BatchGrantsDep) -> BatchGrantOut:
    check_batch(len(body.uploads))
    issued = await batches.grant_many(account_id, [_grant_request(item) for item in body.uploads])
    return BatchGrantOut(
        results=[
            BatchGrantItem(index=n, problem=_problem(result))
            if isinstance(result, DomainError)
            else BatchGrantItem(index=n, grant=_grant_out(result))
            for n, result in enumerate(issued)
        ]
    )


@router.post(
    "/uploads/batch/complete",
    summary="Say many files are in S3; their facts are read from S3",
    description=f"Up to {MAX_BATCH} upload ids; each is answered on its own, as POST "
    "/uploads/{upload_id}/complete would (the upload's state, or its `problem`: 404 for an id that is not "
    "the caller's, 409 not arrived yet, 403 no longer allowed...). Form uploads are copied, read back and "
    "recorded together (one `upload.completed` each, once); multipart uploads answer `verifying` while "
    "their facts are read back. 422 for no ids, too many, or a malformed id; 403 for `sent` from any caller but "
    "DocStore's WebDAV service.",
    responses=problem_responses(403),
)
async def complete_batch(
    body: BatchCompleteIn,
    account_id: CurrentAccountId,
    identity: Annotated[Identity, Depends(require_identity)],
    batches: BatchCompletionDep,
) -> BatchCompleteOut:
    check_batch(len(body.upload_ids))
    if body.sent and identity.by != SENDING_SERVICE:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only DocStore's WebDAV service may say what it sent.")
    sent = {upload_id: SentBytes(item.sha256, tuple(item.part_md5s)) for upload_id, item in body.sent.items()}
    results = await batches.complete_many(account_id, body.upload_ids, sent)
    return BatchCompleteOut(
        results=[
            BatchCompleteItem(upload_id=upload_id, problem=_problem(result))
            if isinstance(result, DomainError)
            else BatchCompleteItem(upload_id=upload_id, upload=_upload_out(result))
            for upload_id, result in results.items()
        ]
    )


@router.get(
    "/uploads/{upload_id}/parts",
    summary="Resume a multipart upload: stored parts, fresh URLs for the rest",
    responses=problem_responses(409),
)
async def parts(upload_id: UploadIdPath, account_id: CurrentAccountId, grants: GrantsDep) -> PartsOut:
    found = await grants.parts(account_id, upload_id)
    row = found.session
    return PartsOut(
        upload_id=upload_id,
        part_size=row["part_size"],
        part_count=row["part_count"],
        stored=[StoredPartOut(part_number=p.number, size=p.size) for p in found.stored],
        missing=[_part_url(n, url, session_layout(row)) for n, url in sorted(found.urls.items())],
    )


@router.post(
    "/uploads/{upload_id}/complete",
    summary="Say the file is in S3; its facts are read from S3",
    description="A form upload answers 200 with its size, ETag and sha256, once the document (or its new "
    "version) is readable by the caller (`recorded: true`; up to 2 s). Past that wait the answer says "
    "`recorded: false` with `Retry-After`: the version is being recorded, ask for the document again then. "
    "A multipart upload answers 202 `verifying` as soon as S3 has joined its parts; its facts are read back "
    "in the background: poll GET /uploads/{upload_id} until `completed`, then the document as above.",
    responses={
        202: {"description": "S3 joined the parts; size and sha256 are being read back", "model": UploadOut},
        **problem_responses(409, 413),
    },
)
async def complete(
    upload_id: UploadIdPath, account_id: CurrentAccountId, completion: CompletionDep, response: Response
) -> UploadOut:
    row = await completion.complete(account_id, upload_id)
    out = _upload_out(row)
    if out.status == VERIFYING:
        response.status_code = status.HTTP_202_ACCEPTED
    elif out.status == "completed":
        # Read-your-writes: answered once the version is readable, or saying it is not yet.
        out.recorded = await completion.recorded(account_id, row)
        if not out.recorded:
            response.headers["Retry-After"] = "1"
    return out


@router.delete("/uploads/{upload_id}", summary="Abort an upload (multipart parts are dropped)")
async def abort(upload_id: UploadIdPath, account_id: CurrentAccountId, endings: EndingsDep) -> UploadOut:
    return _upload_out(await endings.abort(account_id, upload_id))


@router.get("/uploads/{upload_id}", summary="An upload's state")
async def get_upload(upload_id: UploadIdPath, account_id: CurrentAccountId, completion: CompletionDep) -> UploadOut:
    row = await completion.find(account_id, upload_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This upload could not be found.")
    return _upload_out(row)


@router.get(
    "/uploads/{upload_id}/done/{signature}",
    response_class=HTMLResponse,
    summary="Where S3 sends a browser after a form upload (signed link, no login needed)",
)
async def browser_done(
    upload_id: UploadIdPath,
    signature: SignaturePath,
    completion: CompletionDep,
    key: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    try:
        row = await completion.complete_from_redirect(upload_id, signature)
    except DomainError as error:
        # A browser is shown a page, not the problem JSON the shared handler would answer.
        detail = error.detail()
        message = detail if isinstance(detail, str) else detail["message"]
        return HTMLResponse(_page("Upload not finished", message), status_code=error.status)
    return HTMLResponse(_page("Upload complete", f"{row['filename']} is stored ({size_text(row['stored']['size'])})."))


def _page(title: str, message: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        '<p><a href="/">Back to DocStore</a></p></main></body></html>'
    )
