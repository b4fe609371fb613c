"""The audit trail's rules: which events are actions, what record each becomes, and the hash chain.

Every action a person or client takes reaches the audit trail as the event it already causes
(the action's name is the event type: `upload.completed`, `share.link-used`, ...). `audit_fact`
turns an event into the facts of one record: who (the account, or the link for an anonymous
download), what, which document, when, from where (the request's origin), the region, the
outcome and details. Details are the event's own fields minus anything secret-shaped (passwords,
tokens, signatures, credentials, hashes, URLs) and storage internals: the trail is read by people
and exported, so it must hold nothing that grants access.

Records form one chain per account. A record's hash is SHA-256 over the canonical JSON of all
its fields, the previous record's hash among them (`prev_hash`); the first record follows
`GENESIS`, or after a retention purge the anchor (seq and hash of the last purged record). So
editing a record changes its hash, deleting one breaks its successor's `prev_hash` and the seq
run, and reordering puts a seq where its hash does not fit: `ChainVerifier` finds the first
record where any of that happens. Canonical JSON: keys sorted, no spaces, UTF-8, no NaN; times as
`YYYY-MM-DDTHH:MM:SS.mmmZ` (MongoDB keeps milliseconds, so a record reads back as it was hashed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

GENESIS = "0" * 64
"""The `prev_hash` of an account's first record."""

Outcome = Literal["success", "failure"]

# --- which events are actions ------------------------------------------------------------------

ACTIONS: dict[str, str] = {
    "account.created": "sign-up",
    "account.logged-in": "login",
    "account.login-failed": "login (failed)",
    "session.ended": "logout",
    "account.plan-changed": "plan change",
    "account.deleted": "account deletion",
    "account.username-conflicted": "username lost to another region's sign-up",
    "account.email-verified": "e-mail address verified",
    "account.password-changed": "password changed",
    "account.mfa-changed": "two-step sign-in turned on or off",
    "account.sessions-revoked": "signed out everywhere",
    "account.app-password-created": "app password created",
    "account.app-password-revoked": "app password revoked",
    "account.identity-unlinked": "sign-in provider unlinked",
    "account.new-sign-in": "signed in from a new device",
    "upload.initiated": "upload granted",
    "upload.batch-initiated": "uploads granted (a batch)",
    "upload.completed": "upload completed",
    "file.download-url-issued": "download URL issued",
    "file.modified": "new version",
    "file.details-changed": "rename, move or tag",
    "file.trashed": "moved to trash",
    "file.restored": "restored from trash",
    "file.deleted": "deleted permanently",
    "folder.created": "folder created",
    "folder.moved": "folder renamed or moved",
    "folder.trashed": "folder moved to trash",
    "folder.restored": "folder restored from trash",
    "share.created": "shared",
    "share.revoked": "unshared",
    "share.link-created": "link created",
    "share.link-used": "link used",
    "share.link-revoked": "link revoked",
    "share.link-extended": "link extended",
    "share.link-expired": "link expired",
    "file.followed": "followed",
    "file.unfollowed": "unfollowed",
    "notification.preferences-changed": "notification preferences changed",
    "webhook.disabled": "webhook turned off after failed deliveries",
    "admin.dead-letter-replayed": "dead letter replayed (admin)",
    "admin.reconciliation-run": "reconciliation run (admin)",
    "admin.analytics-exported": "analytics exported (admin)",
}
"""Action name (the event type) -> a short label for people. Types the audit-sources part adds
are named here by string, so they are recorded by name whether or not their class exists yet;
an event type in neither this table nor `NOT_ACTIONS` is recorded too (`is_action`)."""

NOT_ACTIONS = frozenset(
    {
        "file.version-recorded",  # the same upload as upload.completed, seen by the indexer
        "document.indexed",
        "document.index-failed",
        "document.preview-ready",  # the indexer rendered a thumbnail: no one's action
        "document.preview-failed",
        "document.batch-indexed",  # several of the above for one account
        "document.batch-previews",
        "quota.warning-reached",
        "quota.exceeded",
        "quota.restored",
        "account.replicated",  # another region's account, replicated here
        "share.link-expiry-neared",  # a reminder, not an action
        "upload.expired",  # a grant nobody used ran out
    }
)
"""Event types that record what the system did on its own, not an action: not in the trail."""

FAILURES = frozenset({"account.login-failed"})
"""Actions whose event means the attempt was refused."""

LINK_ACTORS = frozenset({"share.link-used"})
"""Actions done by whoever held a link, without an account: the actor is the link."""

SYSTEM_ACTORS = frozenset({"share.link-expired", "webhook.disabled"})
"""Actions nobody took (time did): no actor."""


OWNER_SEES = frozenset({"file.download-url-issued"})
"""Actions another account takes on an owner's document that the owner's trail holds too (its
`owner_id`): who downloaded my document is what an owner, and an auditor, looks for there."""


def is_action(event_type: str) -> bool:
    """Whether events of `event_type` belong in the audit trail."""
    return event_type in ACTIONS or event_type not in NOT_ACTIONS


# --- what a record holds -----------------------------------------------------------------------

_SECRET_WORDS = ("password", "token", "secret", "signature", "credential", "hash", "url", "cookie", "authorization")
"""A detail whose name holds one of these is left out, whatever its value (sha256 is not a hash
of a secret and is kept: it names the bytes)."""
_INTERNAL = frozenset({"bucket", "key", "etag", "email", "type", "account_id", "document_id", "actor_id"})
"""Storage internals, personal data the trail does not need, and what the record holds already."""
_SECRET_VALUES = ("x-amz-signature", "x-amz-credential", "signature=", "-----begin")
"""Text that is (part of) a signed URL or a key, in whatever field it turns up."""


def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def scrub(value: Any) -> Any:
    """`value` without secret-shaped members or text, recursively (lists and objects)."""
    if isinstance(value, Mapping):
        return {
            str(name): scrub(item)
            for name, item in value.items()
            if not _is_secret_name(str(name)) and not _holds_secret_text(item)
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value if not _holds_secret_text(item)]
    return value


def _holds_secret_text(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value.lower() for marker in _SECRET_VALUES)


def details_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The details a record keeps of an event's fields (JSON values): no secrets, no internals."""
    kept = {name: item for name, item in data.items() if name not in _INTERNAL}
    scrubbed: dict[str, Any] = scrub(kept)
    return scrubbed


def to_millisecond(moment: datetime) -> datetime:
    """`moment` in UTC, cut to the millisecond MongoDB keeps (a naive time is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_millis(moment: datetime) -> str:
    """The canonical text of a time: `2026-01-31T12:00:00.123Z`."""
    moment = to_millisecond(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class AuditFact:
    """What one action was, before it takes its place in a chain."""

    account_id: str
    """Whose trail it joins: the account the event is about (a link's document's owner)."""
    event_id: str
    at: datetime
    action: str
    outcome: Outcome
    actor: dict[str, str]
    """`{"account_id": ...}`, `{"link_id": ...}` (anonymous use of a link) or `{}` (nobody: time)."""
    document_id: str | None
    client_address: str | None
    user_agent: str | None
    region: str
    details: dict[str, Any] = field(default_factory=dict)
    source_event_id: str = ""
    """The event this record comes from ("" : `event_id` itself). One event may be recorded in
    several trails (`audit_facts`): the first keeps the event's id, each other one's `event_id` is
    `<event id>/<account>`, so every record still has an id of its own."""

    @property
    def from_event(self) -> str:
        return self.source_event_id or self.event_id


def region_of(source: str, default: str) -> str:
    """The region in a CloudEvents source `/docstore/<region>/<service>`, else `default`."""
    parts = source.strip("/").split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "docstore" and parts[1] else default


def audit_fact(
    *,
    event_type: str,
    data: Mapping[str, Any],
    event_id: str,
    at: datetime,
    region: str,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> AuditFact | None:
    """The record facts of one event (`data`: its JSON fields), or None when it is no action."""
    if not is_action(event_type):
        return None
    if event_type.startswith("file.") and data.get("folder_id"):
        return None  # one document of a folder's move or trash: the folder.* event is the action
    account_id = str(data["account_id"])
    if event_type in LINK_ACTORS and data.get("link_id"):
        actor = {"link_id": str(data["link_id"])}
    elif event_type in SYSTEM_ACTORS:
        actor = {}
    else:
        actor = {"account_id": str(data.get("actor_id") or account_id)}
    declared = data.get("outcome")
    outcome: Outcome = (
        declared if declared in ("success", "failure") else ("failure" if event_type in FAILURES else "success")
    )
    document_id = data.get("document_id")
    return AuditFact(
        account_id=account_id,
        event_id=event_id,
        at=to_millisecond(at),
        action=event_type,
        outcome=outcome,
        actor=actor,
        document_id=str(document_id) if document_id else None,
        client_address=client_address,
        user_agent=user_agent,
        region=region,
        details=details_of({k: v for k, v in data.items() if k != "outcome"}),
    )


def audit_facts(
    *,
    event_type: str,
    data: Mapping[str, Any],
    event_id: str,
    at: datetime,
    region: str,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> list[AuditFact]:
    """The records one event becomes: one in the trail of the account it is about (`audit_fact`),
    and one more in the trail of each other account that took part in it: the actor, when another
    account acted on the owner's document (an editor's upload, link or version), and the owner, for
    the actions in `OWNER_SEES` (a grantee's download). The same facts each time, so a redelivered
    event is found recorded in each trail."""
    first = audit_fact(
        event_type=event_type,
        data=data,
        event_id=event_id,
        at=at,
        region=region,
        client_address=client_address,
        user_agent=user_agent,
    )
    if first is None:
        return []
    parties = [first.actor.get("account_id")]
    if event_type in OWNER_SEES:
        parties.append(data.get("owner_id"))
    others = sorted({str(party) for party in parties if party} - {first.account_id})
    return [first] + [
        replace(first, account_id=party, event_id=f"{event_id}/{party}", source_event_id=event_id) for party in others
    ]


# --- the chain -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainPoint:
    """A position in an account's chain: a record's seq and hash (the head, or a purge anchor)."""

    seq: int
    hash: str


START = ChainPoint(0, GENESIS)
"""Before an account's first record."""


@dataclass(frozen=True)
class AuditRecord:
    """One record of an account's chain, as stored."""

    account_id: str
    seq: int
    event_id: str
    at: datetime
    action: str
    outcome: Outcome
    actor: dict[str, str]
    document_id: str | None
    client_address: str | None
    user_agent: str | None
    region: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """Everything the hash covers: every field but the hash itself."""
        return {
            "account_id": self.account_id,
            "seq": self.seq,
            "event_id": self.event_id,
            "at": iso_millis(self.at),
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor,
            "document_id": self.document_id,
            "client_address": self.client_address,
            "user_agent": self.user_agent,
            "region": self.region,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of `hashed_fields`."""
        return hashlib.sha256(canonical_json(self.hashed_fields())).hexdigest()

    def point(self) -> ChainPoint:
        return ChainPoint(self.seq, self.hash)


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, UTF-8, NaN refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def append(head: ChainPoint, fact: AuditFact) -> AuditRecord:
    """The record `fact` becomes after `head`: the next seq, chained to the head's hash."""
    record = AuditRecord(
        account_id=fact.account_id,
        seq=head.seq + 1,
        event_id=fact.event_id,
        at=to_millisecond(fact.at),
        action=fact.action,
        outcome=fact.outcome,
        actor=dict(fact.actor),
        document_id=fact.document_id,
        client_address=fact.client_address,
        user_agent=fact.user_agent,
        region=fact.region,
        details=dict(fact.details),
        prev_hash=head.hash,
        hash="",
    )
    return replace(record, hash=record.computed_hash())


def chain(head: ChainPoint, facts: list[AuditFact]) -> list[AuditRecord]:
    """`facts` (one account's, in order) appended after `head`."""
    records = []
    for fact in facts:
        record = append(head, fact)
        records.append(record)
        head = record.point()
    return records


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a chain: `broken_at` is the seq of the first record that does not
    fit (or the head's seq when records are missing at the end), `reason` says how."""

    ok: bool
    checked: int
    first_seq: int | None
    last_seq: int | None
    broken_at: int | None = None
    reason: str | None = None


class ChainVerifier:
    """Checks one account's records, fed in seq order, from `anchor` (START, or the purge anchor).

    Each record must carry the next seq, the previous record's hash as `prev_hash`, and a hash
    that is that of its own fields. `result(head)` also checks the chain reaches the head the
    writer recorded, so records deleted from the end are found too. It keeps only the last
    position, so a chain of any length is checked in constant memory."""

    def __init__(self, anchor: ChainPoint = START) -> None:
        self.expected = anchor
        self.checked = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.broken_at: int | None = None
        self.reason: str | None = None

    @property
    def broken(self) -> bool:
        return self.broken_at is not None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False once the chain is broken (stop feeding then)."""
        if self.broken:
            return False
        self.checked += 1
        self.first_seq = record.seq if self.first_seq is None else self.first_seq
        self.last_seq = record.seq
        if record.seq != self.expected.seq + 1:
            return self._break(record.seq, f"expected seq {self.expected.seq + 1}: a record is missing or moved")
        if record.prev_hash != self.expected.hash:
            return self._break(record.seq, "prev_hash is not the previous record's hash")
        if record.computed_hash() != record.hash:
            return self._break(record.seq, "the record's fields do not match its hash: it was changed")
        self.expected = record.point()
        return True

    def _break(self, seq: int, reason: str) -> bool:
        self.broken_at, self.reason = seq, reason
        return False

    def result(self, head: ChainPoint | None = None) -> Verification:
        """The verdict; `head` is the last position the writer recorded (None: not known)."""
        if not self.broken and head is not None and head.seq > self.expected.seq:
            self._break(self.expected.seq + 1, f"records {self.expected.seq + 1}..{head.seq} are missing")
        elif not self.broken and head is not None and head.seq == self.expected.seq and head.hash != self.expected.hash:
            self._break(head.seq, "the last record is not the one written")
        return Verification(
            ok=not self.broken,
            checked=self.checked,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            broken_at=self.broken_at,
            reason=self.reason,
        )


def verify(records: list[AuditRecord], anchor: ChainPoint = START, head: ChainPoint | None = None) -> Verification:
    """Check a whole chain at once (`ChainVerifier` for streams)."""
    verifier = ChainVerifier(anchor)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.result(head)


def purge_point(records: list[tuple[int, datetime]], cutoff: datetime) -> int | None:
    """The seq up to which an account's oldest records (`(seq, at)` in seq order) may go: the
    longest run from the start whose records are all older than `cutoff`; None if the first is not.
    A purge removes a prefix of the chain only, so what is left still starts at an anchor."""
    last = None
    for seq, at in records:
        if to_millisecond(at) >= to_millisecond(cutoff):
            break
        last = seq
    return last
