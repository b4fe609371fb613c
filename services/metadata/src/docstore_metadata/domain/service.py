"""What metadata does: sign-up, plan changes, and recording completed uploads as versions."""

from __future__ import annotations

from datetime import UTC, datetime

from motor.motor_asyncio import AsyncIOMotorClientSession
from pymongo.errors import DuplicateKeyError

from docstore_events import AccountCreated, AccountPlanChanged, FileModified, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_metadata.adapters.repositories import AccountRepository, DocumentRepository
from docstore_metadata.domain.accounts import Account, burn_verification, new_account, normalise_username, password_matches
from docstore_metadata.domain.documents import VersionRecorded, next_version


class UsernameTaken(Exception):
    """Sign-up with a username somebody already has."""


class NotOwner(Exception):
    """An upload for a document that belongs to another account."""


class Metadata:
    def __init__(self, events: EventRuntime, accounts: AccountRepository, documents: DocumentRepository, region: str):
        self.events = events
        self.accounts = accounts
        self.documents = documents
        self.region = region

    async def sign_up(self, *, username: str, email: str, password: str, plan: str) -> Account:
        """Store the account and emit `account.created` (without any secret) in one transaction."""
        account = new_account(username=username, email=email, password=password, plan=plan, region=self.region)

        async def write(session: AsyncIOMotorClientSession) -> None:
            await self.accounts.add(account, session)
            await self.events.outbox.add(
                AccountCreated(
                    account_id=account.id,
                    username=account.username,
                    email=account.email,
                    plan=plan,  # type: ignore[arg-type]
                    home_region=account.home_region,
                ),
                session=session,
            )

        try:
            await self.events.transaction(write)
        except DuplicateKeyError as error:
            raise UsernameTaken(account.username) from error
        return account

    async def authenticate(self, username: str, password: str) -> dict | None:
        """The account whose credentials these are, or None."""
        account = await self.accounts.by_username(normalise_username(username))
        if account is None:
            burn_verification(password)
            return None
        return account if password_matches(account["password_hash"], password) else None

    async def change_plan(self, account_id: str, plan: str) -> dict:
        async def write(session: AsyncIOMotorClientSession) -> dict:
            account = await self.accounts.by_id(account_id, session)
            if account is None:
                raise LookupError(account_id)
            if account["plan"] != plan:
                await self.accounts.set_plan(account_id, plan, session)
                await self.events.outbox.add(
                    AccountPlanChanged(account_id=account_id, old_plan=account["plan"], new_plan=plan),  # type: ignore[arg-type]
                    session=session,
                )
                account["plan"] = plan
            return account

        return await self.events.transaction(write)

    async def record_upload(self, event: UploadCompleted, session: AsyncIOMotorClientSession) -> VersionRecorded:
        """A completed upload becomes the next version of its document (a new document at version 1)."""
        document = await self.documents.get(event.document_id, session)
        if document is not None and document["account_id"] != event.account_id:
            raise NotOwner(event.document_id)
        version = next_version(document["current_version"] if document else None)
        now = datetime.now(UTC)
        await self.documents.insert_version(
            {
                "_id": f"{event.document_id}:{version}",
                "document_id": event.document_id,
                "account_id": event.account_id,
                "version": version,
                "upload_id": event.upload_id,
                "bucket": event.bucket,
                "key": event.key,
                "size": event.size,
                "etag": event.etag,
                "sha256": event.sha256,
                "content_type": event.content_type,
                "filename": event.filename,
                "created_at": now,
            },
            session,
        )
        current = {
            "current_version": version,
            "size": event.size,
            "sha256": event.sha256,
            "content_type": event.content_type,
            "modified_at": now,
        }
        if document is None:
            await self.documents.insert_document(
                {
                    "_id": event.document_id,
                    "account_id": event.account_id,
                    "name": event.filename,
                    "title": event.title,
                    "tags": event.tags,
                    "path": event.path,
                    "created_at": now,
                    **current,
                },
                session,
            )
        else:
            await self.documents.update_document(event.document_id, current, session)
            await self.events.outbox.add(
                FileModified(
                    account_id=event.account_id,
                    document_id=event.document_id,
                    version=version,
                    name=document["name"],
                    size=event.size,
                    actor_id=event.account_id,
                ),
                session=session,
            )
        return VersionRecorded(event.document_id, version, document is None)
