"""Upload's refusals. Each carries its HTTP status and problem type (`docstore_kit.errors`), so
the one shared handler answers it and routes hold no try/except."""

from __future__ import annotations

from dataclasses import dataclass

from docstore_kit import errors
from docstore_kit.sizes import size_text

PLAN_NAMES = {"free": "Free", "premium": "Premium"}
"""How people call each plan (the web app's words)."""

UPGRADE_URL = "/v1/account/plan"
"""The public route that changes the caller's plan (`PUT {"plan": ...}`): where an upgrade hint points."""


def plan_name(plan: str) -> str:
    """A plan as people call it: "Free", "Premium"."""
    return PLAN_NAMES.get(plan, plan.replace("_", " ").title())


class InvalidUpload(errors.Invalid, ValueError):
    """An upload request that breaks a rule; the message says which, in words for people, and
    `field` (when known) names the request member at fault, for programs."""

    problem = "invalid-upload"
    title = "Invalid upload"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, object]:
        return {"field": self.field} if self.field else {}


@dataclass(frozen=True)
class Room:
    """Where an account stands when a grant is refused for room: its plan and cap, and the next
    plan up with its cap (None on the largest plan). Whether that plan is worth suggesting for
    a given file is `upgrade_fits`."""

    plan: str
    cap_bytes: int
    upgrade_plan: str | None = None
    upgrade_cap_bytes: int | None = None

    def upgrade_fits(self, size: int, room: int) -> bool:
        """Whether moving to the next plan up would make room for `size` bytes."""
        if self.upgrade_plan is None or self.upgrade_cap_bytes is None:
            return False
        return size <= room + self.upgrade_cap_bytes - self.cap_bytes

    def fields(self, *, upgrade: bool) -> dict[str, object]:
        """The machine members a refusal carries beside its `detail` (upgrade_* null without a hint)."""
        return {
            "plan": self.plan,
            "cap_bytes": self.cap_bytes,
            "upgrade_plan": self.upgrade_plan if upgrade else None,
            "upgrade_cap_bytes": self.upgrade_cap_bytes if upgrade else None,
            "upgrade_url": UPGRADE_URL if upgrade else None,
        }


FREE_SOME_SPACE = "Delete files you no longer need and empty the trash to make room."


def no_room_message(size: int, room: int, account: Room | None = None) -> str:
    """The refusal of a file that does not fit, for people:

    "This file is 6.4 GB but only 5.0 GB is left on your Free plan. Upgrade to Premium for 20 GB."

    The upgrade hint appears only where the plan is the limit (a bigger plan exists and would
    hold the file); otherwise the message says how to make room."""
    where = f" on your {plan_name(account.plan)} plan" if account else ""
    if room > 0:
        message = f"This file is {size_text(size)} but only {size_text(room)} is left{where}."
    else:
        message = f"This file is {size_text(size)} but no space is left{where}."
    if account and account.upgrade_fits(size, room):
        assert account.upgrade_plan is not None and account.upgrade_cap_bytes is not None
        return f"{message} Upgrade to {plan_name(account.upgrade_plan)} for {size_text(account.upgrade_cap_bytes)}."
    return f"{message} {FREE_SOME_SPACE}"


class NoRoom(errors.TooLarge):
    """The declared size does not fit in what the account has left. `detail` says so in sizes
    people read; `needed_bytes`, `available_bytes`, the plan and the upgrade (if any) stay
    beside it for programs (the web app shows an upgrade link from them)."""

    problem = "no-room"
    title = "Not enough room"

    def __init__(self, size: int, room: int, account: Room | None = None) -> None:
        super().__init__(no_room_message(size, room, account))
        self.size = size
        self.room = room
        self.account = account

    def extra(self) -> dict[str, object]:
        fields: dict[str, object] = {"needed_bytes": self.size, "available_bytes": self.room}
        if self.account:
            fields |= self.account.fields(upgrade=self.account.upgrade_fits(self.size, self.room))
        return fields


def over_quota_message(account: Room | None = None) -> str:
    """The refusal of any upload while the account holds more than its cap, for people."""
    if account is None:
        return f"Your storage is full, so uploads are paused. {FREE_SOME_SPACE}"
    message = (
        f"Your files take more than the {size_text(account.cap_bytes)} of your {plan_name(account.plan)} plan, "
        f"so uploads are paused. {FREE_SOME_SPACE}"
    )
    if account.upgrade_plan is not None and account.upgrade_cap_bytes is not None:
        message += f" Or upgrade to {plan_name(account.upgrade_plan)} for {size_text(account.upgrade_cap_bytes)}."
    return message


class OverQuota(errors.Forbidden):
    """The account is flagged over its cap: no new grants until space is freed (or the plan grows)."""

    problem = "over-quota"
    title = "Over quota"

    def __init__(self, account: Room | None = None) -> None:
        super().__init__(over_quota_message(account))
        self.account = account

    def extra(self) -> dict[str, object]:
        if self.account is None:
            return {}
        return self.account.fields(upgrade=self.account.upgrade_plan is not None)


class UploadNotFound(errors.NotFound):
    """No such upload (or document to add a version to) for this account."""

    problem = "upload-not-found"

    def detail(self) -> str:
        # The message is the id looked for; the answer names neither kind nor id.
        return "This upload or document could not be found. It may have been deleted."


class StaleBase(errors.Conflict):
    """A new version was based on a version that is no longer the current one."""

    problem = "stale-base"
    title = "Stale base version"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"Someone saved a newer version of this document (version {current_version}) while you worked on it. "
            "Download it, add your change to it and upload again."
        )
        self.current_version = current_version

    def detail(self) -> dict[str, object]:
        # Clients read `detail.current_version` (the shape this answer always had).
        return {"message": str(self), "current_version": self.current_version}

    def extra(self) -> dict[str, object]:
        return {"current_version": self.current_version}


class NameTaken(errors.Conflict):
    """A new document's name is held by another live document in that folder (names compare in
    NFC, case kept: `résumé.txt` typed on macOS and on Windows is one name)."""

    problem = "name-taken"
    title = "Name taken"

    def __init__(self, path: str, name: str, *, keep_both_name: str | None = None) -> None:
        where = "your top folder" if path == "/" else path
        super().__init__(
            f"There is already a document called “{name}” in {where}. "
            "Choose another name, or upload a new version of that document."
        )
        self.path = path
        self.name = name
        self.keep_both_name = keep_both_name

    def extra(self) -> dict[str, object]:
        # The choices people get in Dropbox, Drive and Nextcloud (issue 37): a new version of the
        # document holding the name (a grant with its document_id), this file under
        # `keep_both_name`, or nothing.
        extra: dict[str, object] = {
            "field": "filename",
            "clash": {"path": self.path, "name": self.name},
            "choices": ["replace", "keep_both", "skip"],
        }
        if self.keep_both_name:
            extra["keep_both_name"] = self.keep_both_name
        return extra


class NotStoredYet(errors.Conflict):
    """Completion was asked for before the object (or every part) reached S3."""

    problem = "not-stored-yet"
    title = "Not stored yet"

    def __init__(self, reason: str, *, missing_parts: list[int] | None = None) -> None:
        # The reason (an upload id, which parts) is for the log; people get the `detail`.
        super().__init__(reason)
        self.missing_parts = missing_parts

    def detail(self) -> str:
        if self.missing_parts:
            return "Some parts of the file have not arrived yet. Send them, then finish the upload again."
        return "The file has not fully arrived yet. Wait for it to finish sending, then try again."

    def extra(self) -> dict[str, object]:
        return {"missing_parts": self.missing_parts} if self.missing_parts else {}


CLOSED_MESSAGES = {
    "expired": "This upload took too long and has expired. Upload the file again.",
    "aborted": "This upload was cancelled. Upload the file again to store it.",
    "rejected": "This upload was refused and nothing was stored. Upload the file again.",
}
"""What people are told about an upload that ended, by its status."""


class UploadClosed(errors.Conflict):
    """The upload expired, was aborted or was rejected; it cannot continue."""

    problem = "upload-closed"
    title = "Upload closed"

    def __init__(self, upload_status: str) -> None:
        super().__init__(
            CLOSED_MESSAGES.get(upload_status, "This upload has ended and can't continue. Upload the file again.")
        )
        self.upload_status = upload_status

    def extra(self) -> dict[str, object]:
        return {"upload_status": self.upload_status}


class TooLarge(errors.Invalid):
    """More bytes arrived than were declared and granted (422: the client broke its declaration)."""

    problem = "larger-than-declared"
    title = "Larger than declared"

    def __init__(self, declared: int, arrived: int | None = None) -> None:
        if arrived is None:
            message = f"More than the {size_text(declared)} announced for this file arrived. Upload it again."
        else:
            message = (
                f"The file that arrived ({size_text(arrived)}) is larger than the {size_text(declared)} announced "
                "when the upload started. Upload it again."
            )
        super().__init__(message)
        self.declared = declared
        self.arrived = arrived

    def extra(self) -> dict[str, object]:
        return {"declared_bytes": self.declared, "arrived_bytes": self.arrived}


class NoLongerAllowed(errors.Forbidden):
    """The grant outlived the right it was issued under: the document was deleted or trashed, or
    the share that let the caller write it was revoked. The upload is rejected, nothing recorded."""

    problem = "no-longer-allowed"
    title = "No longer allowed"

    def __init__(self) -> None:
        super().__init__(
            "This upload can't be saved: the document was deleted, or it is no longer shared with you for editing."
        )


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
        return "This upload could not be finished right now. It is kept: try again in a moment."
