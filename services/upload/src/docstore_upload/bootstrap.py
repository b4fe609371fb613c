"""Composition root: builds upload's clients, adapters and use cases (connects nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import boto3
import httpx

from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, ProcessedEvents, RepairBudget
from docstore_kit.http_transport import async_client
from docstore_kit.s3 import make_s3_client
from docstore_messaging.tracing import propagate_to_request
from docstore_messaging.unit_of_work import UnitOfWork
from docstore_upload.adapters.consistency import CompletedSessions
from docstore_upload.adapters.credentials import (
    CredentialRecords,
    SeaweedFSIdentities,
    StagingListing,
    StsSessions,
)
from docstore_upload.adapters.metadata_client import MetadataClient
from docstore_upload.adapters.quota_client import QuotaClient
from docstore_upload.adapters.repositories import Repositories, mongo_repositories
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Limits
from docstore_upload.service_layer.batch_completion import BatchCompletion
from docstore_upload.service_layer.batch_grants import BatchGrants
from docstore_upload.service_layer.checks import Checks
from docstore_upload.service_layer.common import Redirects, UploadContext
from docstore_upload.service_layer.completion import Completion
from docstore_upload.service_layer.consistency import CompletedUploadsCheck
from docstore_upload.service_layer.credentials import IdentityStore, UploadCredentials
from docstore_upload.service_layer.dedupe import Dedupe
from docstore_upload.service_layer.deltas import Deltas
from docstore_upload.service_layer.endings import Endings
from docstore_upload.service_layer.grants import Grants
from docstore_upload.service_layer.ports import Documents, ObjectStore, Quota
from docstore_upload.settings import Settings


@dataclass
class UploadUseCases:
    """Upload's use cases, one class each, sharing one `UploadContext` (its unit of work and ports)."""

    context: UploadContext
    grants: Grants
    batch_grants: BatchGrants
    completion: Completion
    batch_completion: BatchCompletion
    endings: Endings
    checks: Checks
    dedupe: Dedupe
    deltas: Deltas
    redirects: Redirects

    async def close(self) -> None:
        """Stop reading joined objects back and wait for the background work (before the runtime's
        outbox and MongoDB go away); the watcher finishes what was cut short after a restart."""
        await self.completion.close()


def upload_use_cases(
    uow: UnitOfWork[Repositories],
    reads: Repositories,
    storage: ObjectStore,
    quota: Quota,
    metadata: Documents,
    *,
    region: str,
    limits: Limits,
    redirect_base: str,
    redirect_secret: str,
    pin_checksums: bool = True,
    record_wait_seconds: float = 0.0,
) -> UploadUseCases:
    """The use cases wired to each other (unit tests build them on fakes through this too)."""
    context = UploadContext(uow, reads, storage, quota, metadata, region=region, limits=limits)
    redirects = Redirects(redirect_base, redirect_secret)
    endings = Endings(context)
    completion = Completion(context, endings, redirects, record_wait_seconds=record_wait_seconds)
    dedupe = Dedupe(context, completion, endings)
    deltas = Deltas(context)
    grants = Grants(context, dedupe, deltas, redirects)
    return UploadUseCases(
        context=context,
        grants=grants,
        batch_grants=BatchGrants(context, grants, dedupe, redirects, pin_checksums=pin_checksums),
        completion=completion,
        batch_completion=BatchCompletion(context, completion),
        endings=endings,
        checks=Checks(context, completion),
        dedupe=dedupe,
        deltas=deltas,
        redirects=redirects,
    )


@dataclass
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: UnitOfWork[Repositories]
    repositories: Repositories
    """Outside any transaction: for reads (and tests)."""
    storage: Storage
    uploads: UploadUseCases
    credentials: UploadCredentials
    consistency: ConsistencyChecker
    """The completed-uploads check (issue 32): run in the background and by the admin route."""
    _owned_http: list[httpx.AsyncClient] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close the HTTP clients `bootstrap` built (not the ones a test passed in)."""
        for client in self._owned_http:
            await client.aclose()


def bootstrap(
    settings: Settings,
    *,
    quota: Quota | None = None,
    metadata: Documents | None = None,
    storage: Storage | None = None,
    runtime: ServiceRuntime | None = None,
    identities: IdentityStore | None = None,
) -> Services:
    """Everything upload runs on; tests replace quota, metadata, storage or the runtime."""
    runtime = runtime or ServiceRuntime(settings)
    owned: list[httpx.AsyncClient] = []
    internal_auth = InternalAuth.from_settings(settings)  # signs upload's calls to the other services

    def http(base_url: str, audience: str) -> httpx.AsyncClient:
        client = async_client(
            base_url=base_url,
            timeout=5.0,
            auth=internal_auth.client_auth(audience),
            event_hooks={"request": [propagate_to_request]},  # quota and metadata join the request's trace
        )
        owned.append(client)
        return client

    if quota is None:
        quota = QuotaClient(http(settings.quota_url, "quota"))
    if metadata is None:
        metadata = MetadataClient(http(settings.metadata_url, "metadata"))
    if storage is None:
        storage = Storage(
            make_s3_client(settings),
            make_s3_client(settings, public=True),
            settings.bucket_name(settings.region),
            encryption=settings.server_side_encryption(),
        )
    repositories = mongo_repositories(runtime.db)
    uow = runtime.events.unit_of_work(repositories)
    reads = repositories(None)
    uploads = upload_use_cases(
        uow,
        reads,
        storage,
        quota,
        metadata,
        region=settings.region,
        limits=Limits(
            grant_seconds=settings.grant_seconds,
            multipart_threshold=settings.multipart_threshold_bytes,
            multipart_part=settings.multipart_part_bytes,
            multipart_seconds=settings.multipart_seconds,
        ),
        redirect_base=settings.gateway_url,
        redirect_secret=settings.redirect_secret,
        pin_checksums=settings.pin_checksums,
        record_wait_seconds=settings.complete_record_wait_seconds,
    )
    credentials = UploadCredentials(
        uow,  # its transaction's session binds the credential rows to their events
        identities or identity_store(settings),
        CredentialRecords(runtime.db),
        StagingListing(storage.client, storage.bucket),
        reads.sessions,
        bucket=storage.bucket,
        region=settings.region,
        endpoint=settings.s3_public_endpoint_url
        or settings.s3_endpoint_url
        or f"https://s3.{settings.region}.amazonaws.com",
        lifetime=timedelta(minutes=settings.credentials_minutes),
        max_live=settings.credentials_max_live,
        required_headers=storage.encryption.form_fields(),  # S3 refuses an unencrypted PUT under the prefix
    )
    consistency = ConsistencyChecker(
        runtime.db,
        [
            CompletedUploadsCheck(
                CompletedSessions(runtime.db, topic_prefix=settings.kafka_topic_prefix),
                runtime.events.outbox,
                [
                    ProcessedEvents("metadata", http(settings.metadata_url, "metadata")),
                    ProcessedEvents("quota", http(settings.quota_url, "quota")),
                ],
                RepairBudget(runtime.db),
                bucket=storage.bucket,
                settle_seconds=settings.consistency_settle_seconds,
            )
        ],
        service=settings.service,
        page_size=settings.consistency_page_size,
        pages_per_run=settings.consistency_pages_per_run,
    )
    return Services(
        settings=settings,
        runtime=runtime,
        uow=uow,
        repositories=reads,
        storage=storage,
        uploads=uploads,
        credentials=credentials,
        consistency=consistency,
        _owned_http=owned,
    )


def identity_store(settings: Settings) -> IdentityStore | None:
    """The identity store `UPLOAD_CREDENTIALS` names (None: off). SeaweedFS's IAM API answers on
    its S3 endpoint; STS on AWS's (or `AWS_ENDPOINT_URL_STS`, moto locally). Both are signed with
    the service's own AWS credentials."""
    if settings.credentials == "seaweedfs":
        iam = boto3.client(
            "iam", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.aws_default_region
        )
        return SeaweedFSIdentities(iam)
    if settings.credentials == "sts":
        sts = boto3.client("sts", region_name=settings.aws_default_region)
        return StsSessions(sts, settings.credentials_role_arn, external_id=settings.credentials_external_id)
    return None
