"""No log line relabels its process: a line's own `service` or `region` keyword would replace the
labels `docstore_kit.observability.static_fields` puts on every line (a line's own value wins
there), so the line would claim to come from another service or region. Accounts once logged a
failed call to the peer region as `region=<peer>`: its lines then named the peer region as their
own (tests/e2e/test_metrics_and_logs.py caught it only when the peer was down before it ran).
Name the other party instead: `peer_region=`, `target_service=`."""

from __future__ import annotations

import ast

import pytest

from .sources import ROOT, product_sources

pytestmark = pytest.mark.static

LABELS = {"service", "region"}
"""The fields `static_fields` adds to every line (`configure_logging`)."""
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "msg", "bind", "new"}
LOGGER_NAMES = {"log", "logger", "_log", "_logger"}


def _relabelling_calls(source: str) -> list[tuple[int, str]]:
    """(line, label) of each log call on a logger that passes a label as a keyword."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in LOG_METHODS:
            continue
        receiver = node.func.value
        is_logger = (isinstance(receiver, ast.Name) and receiver.id in LOGGER_NAMES) or (
            isinstance(receiver, ast.Call) and ast.unparse(receiver.func).endswith("get_logger")
        )
        if is_logger:
            found += [(node.lineno, keyword.arg) for keyword in node.keywords if keyword.arg in LABELS]
    return found


def test_the_check_finds_a_relabelling_call() -> None:
    source = 'log.warning("peer_failed", region=peer)\nstructlog.get_logger(__name__).info("x", service="b")\n'
    assert _relabelling_calls(source) == [(1, "region"), (2, "service")]
    assert _relabelling_calls('log.warning("peer_failed", peer_region=peer)\n') == []


def test_no_log_line_passes_a_label_of_its_process() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {label}="
        for path in product_sources()
        for line, label in _relabelling_calls(path.read_text())
    ]
    assert not found, "log calls that relabel their line (name the other party, e.g. peer_region=):\n" + "\n".join(
        found
    )
