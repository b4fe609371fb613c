"""The roll-up arithmetic (pure): what each fact of the ledger adds to which day.

A **fact** is what analytics keeps of one consumed event (`Fact`): its id, its kind, the
entity it concerns (a document, an account, a link), the account whose figures it changes
(the owner), the event's own time, and a few numbers. The ledger of facts is the truth; the
daily roll-ups are a function of it, so wiping them and folding the ledger again gives them
back exactly (`rebuild`).

Two sorts of figures:

- **Flows** (uploads, downloads, link redemptions, shares, index and preview failures): a
  fact adds 1 (or its bytes) to the day of its event time. Order never matters.
- **Stocks** (bytes in current versions, older versions and trash; documents by type;
  accounts by plan): a roll-up holds the day's *change*; the level on a day is the sum of
  changes up to it (`levels`). One entity's changes come from replaying *its* facts in event
  time order (`document_timeline`, `account_timeline`), so a trash that arrives before its
  version, or a plan change before the sign-up, lands on the right day with the right size.
  When a fact arrives, the entity's timeline is computed without and with it, and the
  difference is added (`difference`): what the roll-ups hold is always the sum of the
  timelines of the facts seen, whatever order they came in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

SYSTEM = "*"
"""The scope of the system-wide roll-ups (an account id is never `*`)."""

Kind = Literal[
    "version",
    "renamed",
    "deleted",
    "trashed",
    "restored",
    "plan",
    "closed",
    "upload",
    "download",
    "link-used",
    "link-created",
    "shared",
    "index-failed",
    "preview-failed",
]

DOCUMENT_KINDS = frozenset({"version", "renamed", "deleted", "trashed", "restored"})
ACCOUNT_KINDS = frozenset({"plan", "closed"})

FLOWS: dict[str, str] = {
    "upload": "uploads",
    "download": "downloads",
    "link-used": "link_downloads",
    "link-created": "links_created",
    "shared": "shares",
    "index-failed": "index_failures",
    "preview-failed": "preview_failures",
}
"""The counter each flow fact adds 1 to on its day."""

STOCK_BYTES = ("current_bytes", "old_bytes", "trash_bytes")

Figures = dict[str, int]
"""Named integers: a day's changes, or levels (`docs.pdf`, `plans.free`, `uploads`, ...)."""


@dataclass(frozen=True)
class Fact:
    """One consumed event as the ledger keeps it."""

    event_id: str
    kind: str
    owner: str
    """The account whose figures this changes (the document's owner, the account itself)."""
    subject: str
    """The entity: a document id, an account id, or a link id (`link-*`)."""
    at: datetime
    """The event's time (CloudEvents `time`), never the time it arrived."""
    version: int = 0
    size: int = 0
    versions: tuple[int, ...] = ()
    whole: bool = True
    """`deleted`: the whole document left (a purge), not some versions (pruning)."""
    label: str = ""
    """`version`: the document type; `plan`: the plan; `link-*`: the document's name."""
    document_id: str = ""
    """For a link or download fact: the document it concerns."""
    name: str = ""
    """`version`, `renamed`, `link-*`: the document's name (shown to its owner only)."""

    @property
    def day(self) -> str:
        return day_of(self.at)

    def to_row(self) -> dict[str, Any]:
        return {
            "_id": self.event_id,
            "kind": self.kind,
            "owner": self.owner,
            "subject": self.subject,
            "at": self.at,
            "version": self.version,
            "size": self.size,
            "versions": list(self.versions),
            "whole": self.whole,
            "label": self.label,
            "document_id": self.document_id,
            "name": self.name,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Fact:
        at = row["at"]
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cls(
            event_id=row["_id"],
            kind=row["kind"],
            owner=row["owner"],
            subject=row["subject"],
            at=at,
            version=int(row.get("version", 0)),
            size=int(row.get("size", 0)),
            versions=tuple(row.get("versions", ())),
            whole=bool(row.get("whole", True)),
            label=str(row.get("label", "")),
            document_id=str(row.get("document_id", "")),
            name=str(row.get("name", "")),
        )


def day_of(at: datetime) -> str:
    """The UTC day of a time, `YYYY-MM-DD`."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).date().isoformat()


def document_type(content_type: str, filename: str = "") -> str:
    """A document's type as the dashboards group it (by content type, then extension)."""
    ct = content_type.split(";")[0].strip().lower()
    name = filename.lower()
    if ct == "application/pdf" or name.endswith(".pdf"):
        return "pdf"
    if ct.startswith("image/"):
        return "image"
    if ct.startswith("video/") or ct.startswith("audio/"):
        return "media"
    if any(word in ct for word in ("word", "excel", "spreadsheet", "presentation", "powerpoint", "opendocument")):
        return "office"
    if ct.startswith("text/") or ct in ("application/json", "application/xml"):
        return "text"
    if any(word in ct for word in ("zip", "tar", "gzip", "compressed", "7z")):
        return "archive"
    return "other"


def _ordered(facts: Iterable[Fact]) -> list[Fact]:
    # Event time first; the id breaks ties so every replay sees the same order.
    return sorted(facts, key=lambda f: (f.at, f.event_id))


# --- one document -----------------------------------------------------------------------------


@dataclass
class DocumentState:
    """A document as its facts so far leave it."""

    versions: dict[int, int] = field(default_factory=dict)
    """Version -> size, of the versions whose bytes are still stored."""
    trashed: bool = False
    kind: str = "other"
    name: str = ""

    def apply(self, fact: Fact) -> None:
        if fact.kind == "version":
            self.versions[fact.version] = fact.size
            self.kind = fact.label or self.kind
            self.name = fact.name or self.name
        elif fact.kind == "renamed":
            self.name = fact.name or self.name
        elif fact.kind == "deleted":
            if fact.whole:
                self.versions.clear()
            else:
                for version in fact.versions:
                    self.versions.pop(version, None)
        elif fact.kind == "trashed":
            self.trashed = True
        elif fact.kind == "restored":
            self.trashed = False

    def figures(self) -> Figures:
        """This document's share of the stocks: its bytes by place, and 1 document of its type."""
        if not self.versions:
            return {}
        total = sum(self.versions.values())
        if self.trashed:
            return {"trash_bytes": total}
        current = self.versions[max(self.versions)]
        return {"current_bytes": current, "old_bytes": total - current, f"docs.{self.kind}": 1}


def document_state(facts: Iterable[Fact]) -> DocumentState:
    state = DocumentState()
    for fact in _ordered(facts):
        state.apply(fact)
    return state


def document_timeline(facts: Iterable[Fact]) -> dict[str, Figures]:
    """Day -> the change the document's facts make to the stocks that day."""
    state = DocumentState()
    before: Figures = {}
    changes: dict[str, Figures] = defaultdict(dict)
    for fact in _ordered(facts):
        if fact.kind not in DOCUMENT_KINDS:
            continue
        state.apply(fact)
        after = state.figures()
        _add(changes[fact.day], minus(after, before))
        before = after
    return _clean(changes)


# --- one account ------------------------------------------------------------------------------


def account_timeline(facts: Iterable[Fact]) -> dict[str, Figures]:
    """Day -> the change an account's plan facts make to the accounts by plan (latest by
    event time wins; a closed account counts under no plan)."""
    plan = ""
    closed = False
    before: Figures = {}
    changes: dict[str, Figures] = defaultdict(dict)
    for fact in _ordered(facts):
        if fact.kind == "plan":
            plan = fact.label
        elif fact.kind == "closed":
            closed = True
        else:
            continue
        after = {f"plans.{plan}": 1} if plan and not closed else {}
        _add(changes[fact.day], minus(after, before))
        before = after
    return _clean(changes)


# --- flows ------------------------------------------------------------------------------------


def flow_figures(fact: Fact) -> Figures:
    """What a flow fact adds to its day (empty for stock facts)."""
    counter = FLOWS.get(fact.kind)
    if counter is None:
        return {}
    figures = {counter: 1}
    if fact.kind == "upload":
        figures["upload_bytes"] = fact.size
    return figures


def timeline(entity_kind: str, facts: Iterable[Fact]) -> dict[str, Figures]:
    """The stock timeline of one entity (`document` or `account`)."""
    return document_timeline(facts) if entity_kind == "document" else account_timeline(facts)


def entity_of(fact: Fact) -> str | None:
    """Which stock timeline a fact belongs to: `document`, `account`, or None (a flow)."""
    if fact.kind in DOCUMENT_KINDS:
        return "document"
    if fact.kind in ACCOUNT_KINDS:
        return "account"
    return None


# --- arithmetic on figures --------------------------------------------------------------------


def minus(a: Mapping[str, int], b: Mapping[str, int]) -> Figures:
    out = dict(a)
    for name, value in b.items():
        out[name] = out.get(name, 0) - value
    return {name: value for name, value in out.items() if value}


def _add(into: Figures, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _clean(by_day: Mapping[str, Figures]) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for day, figures in by_day.items():
        kept = {name: value for name, value in figures.items() if value}
        if kept:
            out[day] = kept
    return out


def difference(before: Mapping[str, Figures], after: Mapping[str, Figures]) -> dict[str, Figures]:
    """Day by day, what to add to roll-ups that hold `before` so they hold `after`."""
    out: dict[str, Figures] = {}
    for day in set(before) | set(after):
        change = minus(after.get(day, {}), before.get(day, {}))
        if change:
            out[day] = change
    return out


def merge(into: dict[str, Figures], more: Mapping[str, Figures]) -> None:
    """Add day-by-day figures into `into` (in place)."""
    for day, figures in more.items():
        _add(into.setdefault(day, {}), figures)


def fold(facts: Iterable[Fact]) -> dict[str, Figures]:
    """Day -> changes, of all the facts of one scope at once: the roll-ups a rebuild writes."""
    by_entity: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    out: dict[str, Figures] = {}
    for fact in facts:
        kind = entity_of(fact)
        if kind is None:
            merge(out, {fact.day: flow_figures(fact)})
        else:
            by_entity[(kind, fact.subject)].append(fact)
    for (kind, _), entity_facts in by_entity.items():
        merge(out, timeline(kind, entity_facts))
    return _clean(out)


# --- reading roll-ups -------------------------------------------------------------------------

STOCK_PREFIXES = ("docs.", "plans.")


def is_stock(name: str) -> bool:
    return name in STOCK_BYTES or name.startswith(STOCK_PREFIXES)


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def series(
    rows: Mapping[str, Mapping[str, int]], first: date, last: date, *, carried: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """One point per day from `first` to `last`: stocks as levels (the sum of changes up to
    that day, starting from `carried`, the level before `first`), flows as that day's count."""
    level: Figures = dict(carried or {})
    points = []
    for day in days(first, last):
        changes = rows.get(day, {})
        flows: Figures = {}
        for name, value in changes.items():
            if is_stock(name):
                level[name] = level.get(name, 0) + value
            else:
                flows[name] = value
        points.append({"day": day, **{k: v for k, v in level.items() if v}, **flows})
    return points


def levels_before(rows: Iterable[Mapping[str, int]]) -> Figures:
    """The stock levels that the changes of earlier days add up to."""
    level: Figures = {}
    for changes in rows:
        for name, value in changes.items():
            if is_stock(name):
                level[name] = level.get(name, 0) + value
    return level


def average(total: int, count: int) -> int:
    return total // count if count > 0 else 0


# --- what a set of new facts changes --------------------------------------------------------


def scopes_of(entity_kind: str | None, owner: str) -> tuple[str, ...]:
    """The roll-ups a fact's figures go to: the owner's and the system's; accounts by plan
    are system-wide only."""
    return (SYSTEM,) if entity_kind == "account" else (owner, SYSTEM)


@dataclass
class Effects:
    """What applying some new facts changes, in every roll-up (built by `effects`)."""

    daily: dict[tuple[str, str], Figures] = field(default_factory=dict)
    """(scope, day) -> figures to add."""
    link_days: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(link, owner, day) -> downloads to add."""
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Link id -> fields to set, and `downloads` to add."""
    documents: dict[str, tuple[str, DocumentState]] = field(default_factory=dict)
    """Document id -> (owner, state after the new facts)."""
    document_counts: dict[str, Figures] = field(default_factory=dict)
    """Document id -> counts to add (`downloads`, `link_downloads`, `shares`)."""
    document_owners: dict[str, str] = field(default_factory=dict)

    def add_daily(self, scopes: Iterable[str], by_day: Mapping[str, Figures]) -> None:
        for scope in scopes:
            for day, figures in by_day.items():
                _add(self.daily.setdefault((scope, day), {}), figures)

    def count(self, document_id: str, owner: str, name: str) -> None:
        counts = self.document_counts.setdefault(document_id, {})
        counts[name] = counts.get(name, 0) + 1
        self.document_owners[document_id] = owner


DOCUMENT_COUNTS = {"download": "downloads", "link-used": "link_downloads", "shared": "shares"}


def effects(known: Iterable[Fact], new: Iterable[Fact]) -> Effects:
    """What the `new` facts change, given the `known` facts of the same entities (a rebuild
    passes none known and every fact as new: the same function builds both)."""
    out = Effects()
    known_by: dict[str, list[Fact]] = defaultdict(list)
    for fact in known:
        if entity_of(fact) is not None:
            known_by[fact.subject].append(fact)
    new_by: dict[str, list[Fact]] = defaultdict(list)
    for fact in new:
        kind = entity_of(fact)
        if kind is not None:
            new_by[fact.subject].append(fact)
            continue
        out.add_daily(scopes_of(None, fact.owner), {fact.day: flow_figures(fact)})
        if fact.kind in DOCUMENT_COUNTS and fact.document_id:
            out.count(fact.document_id, fact.owner, DOCUMENT_COUNTS[fact.kind])
        if fact.kind == "link-used":
            key = (fact.subject, fact.owner, fact.day)
            out.link_days[key] = out.link_days.get(key, 0) + 1
            link = out.links.setdefault(fact.subject, {"owner": fact.owner, "document_id": fact.document_id})
            link["downloads"] = link.get("downloads", 0) + 1
        elif fact.kind == "link-created":
            link = out.links.setdefault(fact.subject, {})
            link.update(owner=fact.owner, document_id=fact.document_id, name=fact.name, created_at=fact.at)
    for subject, facts in new_by.items():
        kind = entity_of(facts[0])
        assert kind is not None
        before = known_by.get(subject, [])
        after = before + facts
        change = difference(timeline(kind, before), timeline(kind, after))
        owner = facts[0].owner
        out.add_daily(scopes_of(kind, owner), change)
        if kind == "document":
            out.documents[subject] = (owner, document_state(after))
    out.daily = {key: figures for key, figures in out.daily.items() if any(figures.values())}
    return out
