"""Upload's refusals. Each carries its HTTP status and problem type (`docstore_kit.errors`), so
the one shared handler answers it and routes hold no try/except."""

from __future__ import annotations

from docstore_kit import errors


class InvalidUpload(errors.Invalid, ValueError):
    """An upload request that breaks a rule; the message says which."""

    problem = "invalid-upload"
    title = "Invalid upload"


class NoRoom(errors.TooLarge):
    """The declared size does not fit in what the account has left."""

    problem = "no-room"
    title = "Not enough room"

    def __init__(self, size: int, room: int) -> None:
        super().__init__(f"not enough storage: this file needs {size} bytes and {room} bytes are left")
        self.size = size
        self.room = room


class OverQuota(errors.Forbidden):
    """The account is flagged over its cap: no new grants until space is freed."""

    problem = "over-quota"
    title = "Over quota"


class UploadNotFound(errors.NotFound):
    """No such upload (or document to add a version to) for this account."""

    problem = "upload-not-found"

    def detail(self) -> str:
        # The message is the id looked for; the answer names neither kind nor id.
        return "upload or document not found"


class StaleBase(errors.Conflict):
    """A new version was based on a version that is no longer the current one."""

    problem = "stale-base"
    title = "Stale base version"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the document is at version {current_version}: download it and merge your change")
        self.current_version = current_version

    def detail(self) -> dict[str, object]:
        # Clients read `detail.current_version` (the shape this answer always had).
        return {"message": str(self), "current_version": self.current_version}

    def extra(self) -> dict[str, object]:
        return {"current_version": self.current_version}


class NotStoredYet(errors.Conflict):
    """Completion was asked for before the object (or every part) reached S3."""

    problem = "not-stored-yet"
    title = "Not stored yet"

    def detail(self) -> str:
        return f"the file has not fully arrived in storage yet ({self})"


class UploadClosed(errors.Conflict):
    """The upload expired, was aborted or was rejected; it cannot continue."""

    problem = "upload-closed"
    title = "Upload closed"


class TooLarge(errors.Invalid):
    """More bytes arrived than were declared and granted (422: the client broke its declaration)."""

    problem = "larger-than-declared"
    title = "Larger than declared"


class NoLongerAllowed(errors.Forbidden):
    """The grant outlived the right it was issued under: the document was deleted or trashed, or
    the share that let the caller write it was revoked. The upload is rejected, nothing recorded."""

    problem = "no-longer-allowed"
    title = "No longer allowed"


DECLINED = (NotStoredYet, UploadClosed, TooLarge, NoLongerAllowed)
"""What a completion attempt answers when there is nothing to retry: parts still missing, the
upload closed meanwhile, or rejected (the attempt did that)."""


class BatchTooLarge(errors.Invalid):
    """A batch asks for more items than one request may carry."""

    problem = "batch-too-large"
    title = "Batch too large"


class NotForBatch(errors.Invalid):
    """An item a batch does not take (a multipart upload): the single-file route does."""

    problem = "not-for-batch"
    title = "Not for a batch"


class CompletionFailed(errors.Unavailable):
    """One item of a batch completion failed for a reason that is not the client's (storage or
    database trouble); the upload stays pending and may be completed again."""

    problem = "completion-failed"
    title = "Completion failed"

    def detail(self) -> str:
        return "this upload could not be completed right now; it stays pending: try again"
