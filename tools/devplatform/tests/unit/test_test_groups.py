"""The suite's worker groups: which tests share a worker, and what each worker is handed first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from docstore_devplatform.test_groups import (
    BROWSER_SYSTEM,
    FAULT_PLATFORM,
    SHARED_SYSTEM,
    SYSTEMS_UNIT,
    GroupScheduling,
    check_groups,
    group_of,
    misplaced,
    shared_system_last,
    unit_of,
)


def test_each_system_keeps_its_tests_together_and_other_files_stand_alone() -> None:
    assert group_of("tests/e2e/test_upload.py::test_one[a]") == SHARED_SYSTEM
    assert group_of("tests/security/test_webdav.py::test_x") == SHARED_SYSTEM
    assert group_of("clients/sync/tests/integration/test_sync_client.py::test_y") == SHARED_SYSTEM
    assert group_of("tests/browser/test_region_login.py::test_z") == SHARED_SYSTEM
    assert group_of("tests/browser/test_keyboard.py::test_k") == BROWSER_SYSTEM
    assert group_of("tests/faults/test_broker.py::test_b") == FAULT_PLATFORM
    assert group_of("services/quota/tests/unit/test_usage.py::test_u") == "services/quota/tests/unit/test_usage.py"
    assert group_of("clients/sync/tests/unit/test_plan.py::test_p") == "clients/sync/tests/unit/test_plan.py"


def test_a_system_fixture_outside_its_group_is_refused_at_collection() -> None:
    assert misplaced("tests/e2e/test_a.py::t", ["api", "system", "region_b"]) is None
    assert misplaced("tests/browser/test_keyboard.py::t", ["browser", "web_system"]) is None
    problem = misplaced("services/quota/tests/integration/test_q.py::t", ["system"])
    assert problem is not None and "`system`" in problem and SHARED_SYSTEM in problem
    with pytest.raises(pytest.UsageError, match="web_system"):
        check_groups([SimpleNamespace(nodeid="tests/e2e/test_a.py::t", fixturenames=["web_system"])])  # type: ignore[list-item]


def test_the_shared_systems_tests_run_last_region_bs_files_after_them_and_the_rest_keep_their_order() -> None:
    region_b = ["system", "region_b"]
    tests = [
        ("clients/sync/tests/integration/test_sync_client.py::s1", ["system"]),
        ("clients/sync/tests/integration/test_sync_client.py::s2", region_b),
        ("clients/sync/tests/unit/test_plan.py::p", []),
        ("tests/browser/test_region_login.py::r", region_b),
        ("tests/browser/test_keyboard.py::k", ["web_system"]),
        ("tests/e2e/test_upload.py::u", ["system"]),
        ("tests/faults/test_broker.py::b", ["platform"]),
        ("tests/security/test_webdav.py::w", ["system"]),
        ("tools/devplatform/tests/unit/test_ports.py::t", []),
    ]
    items = [SimpleNamespace(nodeid=nodeid, fixturenames=names) for nodeid, names in tests]
    shared_system_last(items)  # type: ignore[arg-type]
    assert [item.nodeid for item in items] == [
        "clients/sync/tests/unit/test_plan.py::p",
        "tests/browser/test_keyboard.py::k",
        "tests/faults/test_broker.py::b",
        "tools/devplatform/tests/unit/test_ports.py::t",
        "tests/e2e/test_upload.py::u",
        "tests/security/test_webdav.py::w",
        # A file of which one test uses region B goes whole, after the rest of the shared system's.
        "clients/sync/tests/integration/test_sync_client.py::s1",
        "clients/sync/tests/integration/test_sync_client.py::s2",
        "tests/browser/test_region_login.py::r",
    ]


class Worker:
    """What xdist's scheduler needs of a worker: it records the tests it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def test_one_worker_runs_the_systems_one_after_another_and_the_other_the_single_files() -> None:
    collection = [  # in run order: the shared system's tests last (`shared_system_last`)
        "libs/events/tests/unit/test_e.py::a",
        "tests/browser/test_keyboard.py::k1",
        "tests/browser/test_keyboard.py::k2",
        "tests/faults/test_broker.py::b",
        "services/quota/tests/unit/test_usage.py::q",
        "tools/devplatform/tests/unit/test_ports.py::t",
        "tests/e2e/test_upload.py::u1",
        "tests/e2e/test_upload.py::u2",
        "tests/security/test_webdav.py::w",
    ]
    config = SimpleNamespace(getvalue={"tx": ["2*popen"]}.get, option=SimpleNamespace(loadscopereorder=True))
    scheduler = GroupScheduling(config)  # type: ignore[arg-type]
    first, second = Worker("gw0"), Worker("gw1")
    for worker in (first, second):
        scheduler.add_node(worker)  # type: ignore[arg-type]
        scheduler.add_node_collection(worker, collection)  # type: ignore[arg-type]
    scheduler.schedule()
    systems = [nodeid for nodeid in collection if nodeid.startswith("tests/")]
    # The first is handed every system's tests, in run order, before anything else.
    assert [collection[i] for i in first.sent][: len(systems)] == systems
    # The second takes the single files, in collection order.
    assert [collection[i] for i in second.sent][:2] == [
        "libs/events/tests/unit/test_e.py::a",
        "services/quota/tests/unit/test_usage.py::q",
    ]
    assert not set(first.sent) & set(second.sent)
    assert unit_of("tests/faults/test_broker.py::b") == unit_of("tests/e2e/test_upload.py::u1") == SYSTEMS_UNIT
    assert unit_of("services/quota/tests/unit/test_usage.py::q") == "services/quota/tests/unit/test_usage.py"
