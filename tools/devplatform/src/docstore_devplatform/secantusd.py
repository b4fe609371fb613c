"""Start SecantusDB (`secantusd-py`'s own `main`) with fixes to its transaction registry, to
the index work of its write statements and to its `$in` matching.

Run by the servers venv's Python: it needs nothing but SecantusDB (the project imports only its
constants and pure helpers).

SecantusDB 0.7.0b3 runs each statement of a transaction while holding that transaction's
mutex, and before every transactional statement and commit it walks every transaction it
knows, under the registry's one lock, taking each one's mutex to see whether it has idled past
its lifetime. A walk therefore waits for whatever statement any other transaction is running,
and every other session waits behind the walk: all transactions of all services run one
statement at a time, with the server mostly waiting. Measured with `bench/upload.py --small
3000` (batch grants, completions and every consumer of them in transactions): the whole machine
was 30-70 % busy while batch grants took 5 s each; py-spy showed the server's threads parked in
`TransactionRegistry.for_statement` and `commit`.

The replacement walk skips a transaction whose mutex is held (it is running a statement, so it
is not idle) and checks the rest as before, under their mutex. What is reaped, and when, is
unchanged.

Second, its retryable-write records (the reply of every write a driver may retry, kept 30 minutes,
at most 10,000, oldest dropped first). Before every retryable write's lookup and after its record,
the registry scanned every record for stale ones and, once 10,000 were kept, sorted them all to
drop the oldest one: two passes over 10,000 records and a sort for every write any service sent.
py-spy on the suite's SecantusDB during its end-to-end tests: 46 % of its CPU was
`_prune_retryable_locked`. The replacement keeps the records in record order (an `OrderedDict`; a
write recorded again moves to the end) and drops from the front while the oldest is stale or there
are too many, so a prune costs only what it drops. What is kept, what is dropped and when are
unchanged.

Third, how long a transaction may idle before the registry aborts it: 15 s here instead of 60 s
(mongod's `transactionLifetimeLimitSeconds` default, which SecantusDB copies). A process killed
inside a transaction leaves it open, holding what it wrote, and the next writer of those documents
(the restarted consumer, on the same partition) waits until it is aborted: quota's random-kills
test stalled 40-50 s after its last kill with 60 s. A transaction reaped while still alive fails
with `TransientTransactionError` and `with_transaction` runs it again.

Fourth, an update that leaves an index's keys as they were leaves that index's entries as they
were, as mongod does. SecantusDB deleted and rewrote every entry of every index of each document
an update changed. Measured with `bench/upload.py --small 1000` (the thread CPU of the server's
storage calls, by collection): metadata's `documents` (13 indexes, one of them multikey over a
name's trigrams) took 2.8 ms a statement for `$set`s of `full_text` and `preview`, which no index
reads: a quarter of the run's storage time. With the fix the server's CPU per file until settled
fell from 29.0 and 27.1 ms to 21.4 and 22.6 (B A B A). An index whose key fields and partial
filter's fields hold the same values (compared as BSON) before and after the update is skipped;
one whose keys may change, a wildcard or text index, is rewritten as before. The document, its
unique keys' reservations, the multikey marks and the oplog are written as before.

Fifth, a write statement reads its collection's index definitions once. SecantusDB scanned its
index catalog (decoding every index's definition) for each document a statement inserted,
updated or deleted, and again for each check of it: py-spy put 17 % of the server's busy time in
that scan during the same bench, after the fourth fix. With this fix the server's CPU per small
file until settled fell from 26.5 and 29.3 ms to 20.6 and 19.3 (B A B A). The statement holds its
collection's lock, which index builds and drops also take; a `collMod` of an index's options
(which takes only the server's lock) reaches the statements that start after it.

Sixth, a `$in` whose candidates are all strings or ObjectIds is answered by set membership, as
mongod looks a value up in its `$in` list's sorted set. SecantusDB compared each value of each
candidate document with each candidate in turn, through its type-bridging equality: quadratic
in the list's length for DocStore's batch statements (an outbox's published rows, a batch's
sessions or processed events, up to 200 ids each). py-spy (`--gil`) put 9-13 % of the server's
time in that matching during `bench/upload.py --small 1000`. A value of another type (a number,
a document, a Code) or a collation goes through SecantusDB's own comparison, as before.

Another SecantusDB version is started as it is (it may have changed or fixed these), with a line
on stderr.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

PATCHED_VERSION = "0.7.0b3"
TRANSACTION_LIFETIME_SECONDS = 15.0


def _prune_locked(txn_state: Any) -> Callable[[Any], int]:
    """`TransactionRegistry._prune_locked`, without waiting on transactions that are busy.
    `txn_state` is SecantusDB's `TxnState`, read here once rather than imported on every walk."""
    in_progress, aborted = txn_state.IN_PROGRESS, txn_state.ABORTED

    def prune_locked(self: Any) -> int:
        cutoff = self._time() - self._lifetime
        reaped = 0
        for txn in self._txns.values():
            if txn.state is not in_progress or txn.last_use >= cutoff:
                continue  # (read without the mutex: only to pass over the ones that cannot be due)
            if not txn.mutex.acquire(blocking=False):
                continue  # running a statement right now: not idle
            try:
                if txn.state is in_progress and txn.last_use < cutoff:
                    self._rollback_quietly(txn)
                    txn.state = aborted
                    reaped += 1
            finally:
                txn.mutex.release()
        return reaped

    return prune_locked


def _registry_init(original_init: Callable[..., None]) -> Callable[..., None]:
    """`TransactionRegistry.__init__`, then this launcher's two settings of the registry: its
    retryable-write records in record order (`_retryable_records`) and the idle lifetime of a
    transaction (`TRANSACTION_LIFETIME_SECONDS`)."""

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._retryable = OrderedDict(self._retryable)
        self._lifetime = TRANSACTION_LIFETIME_SECONDS

    return init


def _retryable_records(transactions: Any) -> tuple[Callable[[Any], None], Callable[..., None]]:
    """`_prune_retryable_locked` and `record_retryable` over records kept in record order (an
    `OrderedDict`, which `_registry_init` makes). `transactions` is SecantusDB's
    `secantus.transactions` module."""
    lifetime = transactions._RETRYABLE_RECORD_LIFETIME_SECONDS
    most = transactions._RETRYABLE_RECORD_MAX
    recordable, stripped = transactions._is_recordable_reply, transactions._strip_per_attempt_fields

    def prune_retryable_locked(self: Any) -> None:
        records = self._retryable
        cutoff = self._time() - lifetime
        while records:
            oldest = next(iter(records))
            if records[oldest][1] >= cutoff and len(records) <= most:
                return
            del records[oldest]

    def record_retryable(self: Any, lsid_bytes: bytes, txn_number: int, identity: bytes, reply: dict) -> None:
        if not recordable(reply):
            return
        with self._lock:
            key = (lsid_bytes, txn_number)
            self._retryable.pop(key, None)  # recorded again: now the newest
            self._retryable[key] = (stripped(reply), self._time(), identity)
            self._prune_retryable_locked()

    return prune_retryable_locked, record_retryable


def _filter_fields(expression: Any) -> Iterable[str]:
    """The top-level fields a query expression (a partial filter) reads."""
    if isinstance(expression, Mapping):
        for key, value in expression.items():
            if key.startswith("$"):
                yield from _filter_fields(value)
            else:
                yield key.split(".", 1)[0]
    elif isinstance(expression, list):
        for item in expression:
            yield from _filter_fields(item)


def _index_fields(key_spec: Mapping[str, Any], partial: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The top-level fields an index's entries for a document are made of (its keys' and its
    partial filter's), or None when they cannot be named: a wildcard or text index reads fields
    its key does not list."""
    fields = set()
    for path, kind in key_spec.items():
        if "$**" in path or kind == "text" or path in ("_fts", "_ftsx"):
            return None
        fields.add(path.split(".", 1)[0])
    fields.update(_filter_fields(partial or {}))
    return frozenset(fields)


def _statement_writes(storage: Any, bson: Any) -> None:
    """`Storage`'s write statements with their index work cut to what mongod does.

    An update's index entries: both update bodies (`_update_chunk`, `_update_matching_single_txn`)
    delete a document's entries from `indexes` and then write the updated document's to the same
    `indexes`, for the same RecordId. Inside them, the delete is held until the write, which then
    deletes and writes only the indexes whose fields differ. Everywhere else (inserts, deletes,
    an upsert's insert) the two run as they are.

    The index catalog: inside a write statement's body (an insert chunk, an update or a delete),
    the collection's index definitions are read once rather than once for every document and
    every check (`_iter_indexes`, a scan of the catalog table decoding each index). A statement
    holds its collection's lock, under which no index is created or dropped; the multikey marks a
    statement adds are written and tracked without this read (`_maybe_mark_multikey`)."""
    cls = storage.Storage
    delete_entries, write_entries = cls._delete_index_entries, cls._write_index_entries
    iter_indexes = cls._iter_indexes
    held = threading.local()

    def differs(old: Mapping[str, Any], new: Mapping[str, Any], field: str) -> bool:
        """`field` is not the same in `old` and `new`: present in one only, or other BSON."""
        if (field in old) != (field in new):
            return True
        return field in old and bson.encode({"v": old[field]}) != bson.encode({"v": new[field]})

    def changed_indexes(old: Mapping[str, Any], new: Mapping[str, Any], indexes: list, partials: Mapping) -> list:
        # Each field is compared once, however many indexes hold it (`documents`' `account_id`:
        # all of its indexes but one).
        fields = {index[0]: _index_fields(index[1], partials.get(index[0])) for index in indexes}
        named: set[str] = set().union(*(names for names in fields.values() if names is not None))
        changed = {field for field in named if differs(old, new, field)}
        return [index for index in indexes if fields[index[0]] is None or fields[index[0]] & changed]

    def statement(body: Callable[..., Any], *, holds_deletes: bool) -> Callable[..., Any]:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            outer = getattr(held, "pending", None), getattr(held, "catalog", None)
            held.pending = {} if holds_deletes else None
            held.catalog = {}
            try:
                return body(self, *args, **kwargs)
            finally:
                held.pending, held.catalog = outer

        return run

    def indexes_of(self: Any, db: str, coll: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        catalog = getattr(held, "catalog", None)
        if catalog is None:
            return iter_indexes(self, db, coll)
        rows = catalog.get((db, coll))
        if rows is None:
            rows = catalog[(db, coll)] = list(iter_indexes(self, db, coll))
        return iter(rows)

    def delete_index_entries(
        self: Any, db: str, coll: str, doc: Any, indexes: Any, partials: Any = None, *, recordid: int
    ) -> None:
        pending = getattr(held, "pending", None)
        if pending is None:
            return delete_entries(self, db, coll, doc, indexes, partials, recordid=recordid)
        pending[(db, coll, recordid)] = doc
        return None

    def write_index_entries(
        self: Any, db: str, coll: str, doc: Any, indexes: Any, partials: Any = None, *, recordid: int
    ) -> None:
        pending = getattr(held, "pending", None)
        old = pending.pop((db, coll, recordid), None) if pending is not None else None
        if old is None:
            return write_entries(self, db, coll, doc, indexes, partials, recordid=recordid)
        if partials is None:
            partials = self._partial_filters(db, coll)
        changed = changed_indexes(old, doc, indexes, partials)
        delete_entries(self, db, coll, old, changed, partials, recordid=recordid)
        return write_entries(self, db, coll, doc, changed, partials, recordid=recordid)

    for name in ("_update_chunk", "_update_matching_single_txn"):
        setattr(cls, name, statement(getattr(cls, name), holds_deletes=True))
    for name in ("_insert_chunk", "_delete_chunk", "_delete_matching_single_txn"):
        setattr(cls, name, statement(getattr(cls, name), holds_deletes=False))
    cls._iter_indexes = indexes_of
    cls._delete_index_entries = delete_index_entries
    cls._write_index_entries = write_index_entries


def _in_by_membership(values: list[Any], wanted: frozenset[Any], exact: tuple[type, ...], missing: Any) -> bool | None:
    """`$in`'s answer for a field's `values` when every candidate is of an `exact` type (a
    string, an ObjectId: equal only to an equal value of its own type), found by set membership
    instead of comparing each value with each candidate; None when a value is of another type
    (then SecantusDB's own comparison decides). An array's elements are each tried, as the
    matcher's one level of array traversal does."""
    for value in values:
        if value is missing:
            continue  # matches only a None candidate, and there is none
        kind = type(value)
        if kind in exact:
            if value in wanted:
                return True
        elif kind is list:  # a plain array (a positional reading is a subclass: not here)
            for element in value:
                if type(element) not in exact:
                    return None
                if element in wanted:
                    return True
        else:
            return None
    return False


def _set_membership_in(query: Any, bson: Any) -> None:
    """Sixth fix: `$in` over strings or ObjectIds by set membership (see the module docstring)."""
    original = query._op_matches
    exact = (str, bson.ObjectId)
    missing = query.MISSING
    last: list[tuple[Any, frozenset[Any] | None]] = [((), None)]  # the latest `$in` list and its set

    def wanted_of(arg: list[Any]) -> frozenset[Any] | None:
        seen, wanted = last[0]  # one statement tries the same list against each candidate document
        if seen is not arg:
            wanted = frozenset(arg) if all(type(candidate) in exact for candidate in arg) else None
            last[0] = (arg, wanted)
        return wanted

    def op_matches(values: list[Any], op: str, arg: Any, collation: Any = None, **kwargs: Any) -> bool:
        if op == "$in" and collation is None and type(arg) is list and kwargs.get("descend", True):
            wanted = wanted_of(arg)
            if wanted is not None:
                found = _in_by_membership(values, wanted, exact, missing)
                if found is not None:
                    return found
        return original(values, op, arg, collation, **kwargs)  # type: ignore[no-any-return]

    query._op_matches = op_matches


def patch() -> bool:
    """Install the walk, the retryable records, the statements' index work and the `$in` lookup
    above when SecantusDB is the version they were written for."""
    import bson
    import secantus
    from secantus import query, storage, transactions
    from secantus.transactions import TransactionRegistry, TxnState

    if secantus.__version__ != PATCHED_VERSION or not hasattr(TransactionRegistry, "_prune_locked"):
        print(
            f"docstore: SecantusDB {secantus.__version__} started unpatched "
            f"(the transaction registry fix is for {PATCHED_VERSION})",
            file=sys.stderr,
        )
        return False
    TransactionRegistry._prune_locked = _prune_locked(TxnState)  # type: ignore[method-assign]
    prune_retryable_locked, record_retryable = _retryable_records(transactions)
    TransactionRegistry.__init__ = _registry_init(TransactionRegistry.__init__)  # type: ignore[method-assign]
    TransactionRegistry._prune_retryable_locked = prune_retryable_locked  # type: ignore[method-assign]
    TransactionRegistry.record_retryable = record_retryable  # type: ignore[method-assign]
    _statement_writes(storage, bson)
    _set_membership_in(query, bson)
    return True


if __name__ == "__main__":
    patch()
    from secantus.cli import main

    sys.exit(main())
