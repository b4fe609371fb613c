"""Start SecantusDB (`secantusd-py`'s own `main`) with one fix to its transaction registry.

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
unchanged. Another SecantusDB version is started as it is (it may have changed or fixed this),
with a line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

PATCHED_VERSION = "0.7.0b3"


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


def patch() -> bool:
    """Install the walk above when SecantusDB is the version it was written for."""
    import secantus
    from secantus.transactions import TransactionRegistry, TxnState

    if secantus.__version__ != PATCHED_VERSION or not hasattr(TransactionRegistry, "_prune_locked"):
        print(
            f"docstore: SecantusDB {secantus.__version__} started unpatched "
            f"(the transaction registry fix is for {PATCHED_VERSION})",
            file=sys.stderr,
        )
        return False
    TransactionRegistry._prune_locked = _prune_locked(TxnState)  # type: ignore[method-assign]
    return True


if __name__ == "__main__":
    patch()
    from secantus.cli import main

    sys.exit(main())
