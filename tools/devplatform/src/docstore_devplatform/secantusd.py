"""Start SecantusDB (`secantusd-py`'s own `main`) with two fixes to its transaction registry.

Run by the servers venv's Python, not imported by the project: it needs nothing but SecantusDB.

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

Another SecantusDB version is started as it is (it may have changed or fixed these), with a line
on stderr.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
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


def patch() -> bool:
    """Install the walk and the retryable records above when SecantusDB is the version they were
    written for."""
    import secantus
    from secantus import transactions
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
    return True


if __name__ == "__main__":
    patch()
    from secantus.cli import main

    sys.exit(main())
