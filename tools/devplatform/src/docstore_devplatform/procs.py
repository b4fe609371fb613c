"""Child processes that log to a file and die with their parent.

Each child runs in its own session (so a terminal's Ctrl-C reaches only the parent,
which then stops the children in order). Children still die when the parent dies:

* every live child is stopped by an ``atexit`` hook and by SIGTERM/SIGINT handlers
  installed in the parent (chained to the handlers already there);
* on Linux, a child started from the main thread also gets ``PR_SET_PDEATHSIG``
  (SIGTERM), which covers a parent killed by SIGKILL. (The kernel sends it when the
  *thread* that forked exits, so it is not set for children started off the main thread.)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def tail_file(path: Path, lines: int = 40, *, start: int = 0) -> str:
    """The last ``lines`` lines of ``path`` after byte offset ``start``."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            tail = deque(log, maxlen=lines)
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return b"".join(tail).decode(errors="replace")


class ManagedProcess:
    """One child process: argv, environment and a log file ``log_path``.

    The log is appended to, with a header line per start, so restarts keep history;
    :meth:`log_tail` reads only what the current run wrote.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def pid(self) -> int | None:
        """The pid of the current run, or None before the first start."""
        return self.popen.pid if self.popen else None

    def start(self) -> None:
        """Start the process (no-op when it is already running)."""
        if self.alive():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._log_start = log.tell()
            on_main_thread = threading.current_thread() is threading.main_thread()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" and on_main_thread else None,
            )
        _REGISTRY.add(self)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def returncode(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return self.popen.poll() if self.popen else None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group (ignores a dead child)."""
        if self.alive():
            assert self.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
        stop_all([self], timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the process group and reap the child."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()
        _REGISTRY.discard(self)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the current run wrote to its log."""
        return tail_file(self.log_path, lines, start=self._log_start)

    def describe_failure(self) -> str:
        """A message block: exit status (if any), log path and log tail."""
        status = self.returncode()
        state = "is running" if status is None else f"exited with status {status}"
        return f"{self.name} {state}; log {self.log_path}, last lines:\n{self.log_tail()}"

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, alive={self.alive()})"


def stop_all(processes: Iterable[ManagedProcess], timeout: float = 10.0) -> None:
    """Stop processes together: SIGTERM to all, wait (shared deadline), SIGKILL stragglers."""
    procs = [p for p in processes if p.popen is not None]
    for proc in procs:
        proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        assert proc.popen is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        proc.kill()
        _REGISTRY.discard(proc)


class _Registry:
    """Live children of this process, stopped at exit or on SIGTERM/SIGINT."""

    def __init__(self) -> None:
        self._procs: set[ManagedProcess] = set()
        self._lock = threading.RLock()  # re-entered from signal handlers
        self._installed = False

    def add(self, proc: ManagedProcess) -> None:
        with self._lock:
            self._procs.add(proc)
            if not self._installed:
                self.install(signals=True)

    def discard(self, proc: ManagedProcess) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_everything(self, timeout: float = 10.0) -> None:
        with self._lock:
            procs = list(self._procs)
        stop_all(procs, timeout=timeout)

    def install(self, *, signals: bool) -> None:
        if self._installed:
            return
        self._installed = True
        atexit.register(self.stop_everything)
        if not signals or threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if previous != signal.SIG_IGN:  # respect an ignored signal (nohup, background jobs)
                signal.signal(signum, self._handler(previous))

    def _handler(self, previous: object):  # noqa: ANN202
        def handle(signum: int, frame: FrameType | None) -> None:
            self.stop_everything()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        return handle


_REGISTRY = _Registry()


def stop_every_child(timeout: float = 10.0) -> None:
    """Stop every child this process started and has not stopped yet."""
    _REGISTRY.stop_everything(timeout)


def install_cleanup(*, signals: bool = True) -> None:
    """Register the at-exit (and, with ``signals``, SIGTERM/SIGINT) cleanup of children now.

    Happens anyway when the first child starts. A program that handles SIGTERM itself
    (stopping its children in order) calls this first with ``signals=False``.
    """
    _REGISTRY.install(signals=signals)
