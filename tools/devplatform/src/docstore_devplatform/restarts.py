"""When the supervisor restarts a child that exited: exponential backoff, capped, forgotten after
a period of health. Pure (the clock is passed in), so the policy is tested without processes."""

from __future__ import annotations

from dataclasses import dataclass

#: First wait after an exit, the cap, and how long a child must run before its backoff is forgotten.
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
HEALTHY_AFTER = 60.0


@dataclass
class RestartPolicy:
    """One child's restarts. ``exited(now)`` when it is found dead returns when to start it again;
    ``started(now)`` when it runs again. A child that ran ``healthy_after`` seconds since its last
    start begins again at ``first_delay``; one that keeps dying waits twice as long each time, up
    to ``max_delay``."""

    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    healthy_after: float = HEALTHY_AFTER
    restarts: int = 0
    """Every restart since the platform started (shown by ``status``)."""
    failures_in_a_row: int = 0
    last_start: float | None = None
    next_start: float | None = None

    def exited(self, now: float) -> float:
        """The child was found dead at ``now``: when to start it again."""
        if self.next_start is not None:
            return self.next_start  # already scheduled
        if self.last_start is not None and now - self.last_start >= self.healthy_after:
            self.failures_in_a_row = 0
        delay = min(self.max_delay, self.first_delay * 2**self.failures_in_a_row)
        self.failures_in_a_row += 1
        self.next_start = now + delay
        return self.next_start

    def due(self, now: float) -> bool:
        """True once the scheduled restart time has come."""
        return self.next_start is not None and now >= self.next_start

    def started(self, now: float) -> None:
        """A restart was made at ``now`` (it may still fail: the next exit counts against it)."""
        self.restarts += 1
        self.last_start = now
        self.next_start = None
