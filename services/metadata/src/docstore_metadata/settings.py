"""Settings of the metadata service (env: METADATA_<NAME>, then <NAME>)."""

from __future__ import annotations

from typing import Literal

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings, S3Settings):
    service = "metadata"

    port: int = 8081
    download_url_seconds: int = 300
    page_size_max: int = 200

    free_version_cap: int = 10
    """Versions a Free document keeps; older ones leave S3 and the quota."""
    premium_version_cap: int = 100
    trash_retention_days: float = 30
    """How long a trashed document can be restored before it is purged."""
    purge_interval_seconds: float = 60
    """How often a replica looks for expired trash to purge."""
    purge_lease_seconds: float = 300
    """A purge claim older than this is taken over by another replica."""
    folder_batch: int = 200
    """`METADATA_FOLDER_BATCH`: documents a folder move, trash or restore rewrites per transaction."""
    folder_wait_seconds: float = 20
    """`METADATA_FOLDER_WAIT_SECONDS`: how long a folder request waits for its documents to follow
    before answering with `moving: true` (the rest goes on in the background)."""
    account_purge_grace_days: float = 30
    """`METADATA_ACCOUNT_PURGE_GRACE_DAYS`: how long after `DELETE /account` the account's documents,
    versions, previews, index entries and S3 objects stay before they are purged (its links and
    shares end at once). The time to undo a mistaken or forced deletion by hand, and the longest a
    deleted account's bytes are kept."""
    account_purge_interval_seconds: float = 60
    """How often a replica looks for deleted accounts' documents whose purge is due."""
    garbage_interval_seconds: float = 5
    """How often S3 objects of pruned versions and purged documents are deleted."""
    changes_wait_max_seconds: float = 30
    changes_poll_seconds: float = 0.25
    """Long-poll interval on the changes collection (works across replicas)."""
    compare_max_files: int = 5000
    search_scan_budget: int = 2000
    """Index rows one search request may read before answering with what it found and a cursor."""
    listing_strategy: Literal["auto", "windowed", "keyset"] = "auto"
    """How listings and searches read an index range (`adapters/keyset.py`): `keyset`, one limited
    query (MongoDB stops a range at its limit); `windowed`, bounded windows of the key and
    remembered first-page edges (SecantusDB reads a whole range before applying the limit);
    `auto`, windowed when `buildInfo` names SecantusDB (`secantusVersion`), keyset otherwise."""

    notify_url: str = "http://127.0.0.1:8085"
    """Notify (internal): the outbox check asks its `POST /internal/processed-events`."""
    indexer_url: str = "http://127.0.0.1:8084"
    """Indexer (internal): the consistency check asks its `POST /internal/processed-events`."""
    quota_url: str = "http://127.0.0.1:8083"
    """Quota (internal): the outbox check asks its `POST /internal/processed-events`."""
    accounts_url: str = "http://127.0.0.1:8086"
    """Accounts (internal): `Owners` asks it about an account the projection does not know yet."""

    def version_caps(self) -> dict[str, int]:
        return {"free": self.free_version_cap, "premium": self.premium_version_cap}
