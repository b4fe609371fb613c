"""`POST /uploads/credentials`: temporary S3 credentials for the caller's staging prefix."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_upload.api.deps import ServicesDep

router = APIRouter(tags=["uploads"])


class CredentialsOut(BaseModel):
    access_key_id: str
    secret_access_key: str = Field(description="Shown once; DocStore keeps no copy")
    session_token: str | None = Field(description="Send as `x-amz-security-token` (AWS); null locally")
    expires_at: datetime = Field(description="After this every request with these credentials is refused")
    bucket: str
    prefix: str = Field(
        description="The only keys these credentials may write: PUT a granted upload's staging key "
        "(its `form.fields.key`), then complete it as usual. Anything else written here is deleted."
    )
    region: str
    endpoint: str = Field(description="The S3 endpoint to send requests to")
    required_headers: dict[str, str] = Field(
        description="Headers every PUT (and CreateMultipartUpload) with these credentials must carry: "
        'the server-side encryption, e.g. `{"x-amz-server-side-encryption": "AES256"}`. S3 refuses '
        "(403) a PUT under the prefix without it, so nothing written here is stored in the clear"
    )


@router.post(
    "/uploads/credentials",
    status_code=status.HTTP_201_CREATED,
    summary="Temporary S3 credentials that may write only the caller's upload keys",
    description="For clients that upload many files (the sync client): S3 credentials lasting minutes "
    "that may only `PutObject` (and multipart-upload) under the caller's staging prefix, each write "
    "with the `required_headers` (server-side encryption: S3 refuses a PUT without it). They read, "
    "list and delete nothing. A file still needs a grant (`POST /uploads` or `/uploads/batch`: the room "
    "is reserved and the key chosen there) and a completion, which checks size and sha256 against the "
    "grant; objects under the prefix that no pending upload owns are deleted when the credentials "
    "expire. 404 when this server hands none out; 429 when the account already holds the most "
    "unexpired credentials allowed; 503 when they cannot be made right now.",
    responses=problem_responses(404, 429, 503),
)
async def issue_credentials(account_id: CurrentAccountId, services: ServicesDep, response: Response) -> CredentialsOut:
    issued = await services.credentials.issue(account_id)
    # A secret: no cache (browser, proxy) may keep the answer.
    response.headers["Cache-Control"] = "no-store"
    return CredentialsOut(
        access_key_id=issued.keys.access_key_id,
        secret_access_key=issued.keys.secret_access_key,
        session_token=issued.keys.session_token,
        expires_at=issued.expires_at,
        bucket=issued.scope.bucket,
        prefix=issued.scope.prefix,
        region=issued.scope.region,
        endpoint=issued.endpoint,
        required_headers=issued.required_headers,
    )
