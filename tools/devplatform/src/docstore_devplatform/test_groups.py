"""Which tests share a pytest-xdist worker: the suite runs on two (`scripts/test`; issue 35).

A worker is a process of its own: it starts the servers and every system its tests ask for. So the
tests of one system start must stay on one worker, or the run starts that system twice (stop 47
measured it: xdist's own `--dist load` spread the two-region system over both workers and the run
cost 1.6x the CPU). A *group* is the tests of one system start:

- the tests on the shared two-region system (`system`, `region_b`: tests/e2e, tests/security,
  the sync client's integration tests, the browser's region login);
- the browser tests on their own web system (tests/browser);
- the fault tests and the TLS tests on their own platform (tests/faults, `supervise --tls`);
- every other test file on its own (unit tests, and integration tests that start only servers,
  which each worker starts once).

A *unit* is what one worker runs from start to end. All three systems' groups are one unit, run
in collection order (the browser's, the fault platform's, then the shared system's last: see
`shared_system_last`), so no two of these three are ever up at once (a few single files start a
platform of their own); the other worker takes the single files meanwhile. Handing each system
to a worker of its own kept the 2 cores 1.8-1.9 busy with two systems side by side and saved no
wall time (bench/README, 2026-11-27 02:18). The systems' unit goes first, so the longest chain
starts at once. Only the test id reaches xdist's controller, so a group and a unit are functions
of the id; `check_groups` (run at every collection, with or without xdist) fails a test that
uses a system's fixture from outside that system's group, so a new file cannot start a system
twice unnoticed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import pytest

SHARED_SYSTEM = "the shared two-region system"
BROWSER_SYSTEM = "tests/browser"
FAULT_PLATFORM = "tests/faults"

#: Folders (and single files) whose tests run on the shared two-region system.
SHARED_SYSTEM_PATHS = (
    "tests/e2e/",
    "tests/security/",
    "clients/sync/tests/integration/",
    "tests/browser/test_region_login.py",
)

REGION_B_FIXTURE = "region_b"
"""The shared system's second region: its own processes, started by the first test that asks."""
#: The session fixture that starts each system, and the group its tests must be in.
SYSTEM_FIXTURES = {
    "system": SHARED_SYSTEM,
    REGION_B_FIXTURE: SHARED_SYSTEM,
    "web_system": BROWSER_SYSTEM,
    "platform": FAULT_PLATFORM,
}

#: Groups that start a system.
SYSTEM_GROUPS = (SHARED_SYSTEM, BROWSER_SYSTEM, FAULT_PLATFORM)
#: The unit of every system group's tests: one worker runs them one system after another.
SYSTEMS_UNIT = "the systems, one after another"


def group_of(nodeid: str) -> str:
    """The group of the test with this id (`path::name[params]`)."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(SHARED_SYSTEM_PATHS):
        return SHARED_SYSTEM
    for group in (BROWSER_SYSTEM, FAULT_PLATFORM):
        if path.startswith(group + "/"):
            return group
    return path


def shared_system_last(items: list[pytest.Item]) -> None:
    """Run the shared system's tests after every other test, and among them the files that use
    region B last (in place, otherwise in collection order). The systems are session-scoped: each
    starts with its first test and stops when the run ends. So the shared system's tests last means
    its 18 processes never idle beside the browser's and the fault platform's systems or the
    servers-only tests (bench/README, 2026-11-26: ~10 minutes of them), and region B's files last
    means region B's processes run beside those files only, not beside every test of the shared
    system. A file goes whole, so its module fixtures start once."""

    def path(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    with_region_b = {path(item) for item in items if REGION_B_FIXTURE in getattr(item, "fixturenames", ())}

    def place(item: pytest.Item) -> tuple[bool, bool]:
        shared = group_of(item.nodeid) == SHARED_SYSTEM
        return shared, shared and path(item) in with_region_b

    items.sort(key=place)


def unit_of(nodeid: str) -> str:
    """The unit (what one worker runs whole) of the test with this id."""
    group = group_of(nodeid)
    return SYSTEMS_UNIT if group in SYSTEM_GROUPS else group


def in_handout_order(units: Iterable[str]) -> list[str]:
    """The systems' unit first, then the rest in collection order."""
    units = list(units)
    return [u for u in units if u == SYSTEMS_UNIT] + [u for u in units if u != SYSTEMS_UNIT]


def misplaced(nodeid: str, fixturenames: Iterable[str]) -> str | None:
    """Why this test is in the wrong group for the system it uses, or None."""
    group = group_of(nodeid)
    for fixture in fixturenames:
        wanted = SYSTEM_FIXTURES.get(fixture)
        if wanted is not None and wanted != group:
            return (
                f"{nodeid} uses the `{fixture}` fixture but its group is {group!r}, not {wanted!r}: "
                "add its path to docstore_devplatform.test_groups, or xdist starts that system twice"
            )
    return None


def check_groups(items: Iterable[pytest.Item]) -> None:
    """Fail the run at collection if a test uses a system from outside that system's group."""
    problems = [p for item in items if (p := misplaced(item.nodeid, getattr(item, "fixturenames", ())))]
    if problems:
        raise pytest.UsageError("\n".join(problems))


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pragma: no cover - xdist is a dev dependency; without it the suite runs in one process
    LoadScopeScheduling = None
else:

    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with DocStore's units: the systems on one worker, first."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def schedule(self) -> None:
            if self.collection is None and self._check_nodes_have_same_collection():
                # The first hand-out: queue the groups in hand-out order. xdist's schedule() then
                # fills each unit with `workqueue[group] = tests`, which keeps a key's place.
                collection = next(iter(self.registered_collections.values()))
                order = in_handout_order(dict.fromkeys(unit_of(nodeid) for nodeid in collection))
                self.workqueue = OrderedDict((group, {}) for group in order)
            super().schedule()
