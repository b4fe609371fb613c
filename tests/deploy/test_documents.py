"""The documents live with the code (issue 16): every relative link in the repository's READMEs
and docs/ names a file inside the repository (the README once pointed at
`../shared/design/ARCHITECTURE.md`, which a clone does not have); the README links the
architecture document; deploy/README.md has the sections an operator needs on day one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy_support import REPO

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"```.*?```", re.S)


def documents() -> list[Path]:
    found = [REPO / "README.md", REPO / "deploy" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for pattern in ("services/*/README.md", "libs/*/README.md", "tools/*/README.md", "tests/*/README.md"):
        found += sorted(REPO.glob(pattern))
    return found


def link_problems(document: Path, text: str) -> list[str]:
    """Relative links (outside code blocks) whose target is outside the repository or missing."""
    problems = []
    for match in LINK.finditer(FENCE.sub("", text)):
        target = match[1]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor of this document
        resolved = (document.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(REPO):
            problems.append(f"{document.relative_to(REPO)}: {target} lies outside the repository")
        elif not resolved.exists():
            problems.append(f"{document.relative_to(REPO)}: {target} does not exist")
    return problems


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_stay_inside_the_repository(document: Path) -> None:
    assert link_problems(document, document.read_text()) == []


def test_the_link_check_sees_the_old_outside_link() -> None:
    readme = REPO / "README.md"
    broken = "See [the design](../shared/design/ARCHITECTURE.md) and [a gone file](docs/NOPE.md).\n"
    problems = link_problems(readme, broken)
    assert problems == [
        "README.md: ../shared/design/ARCHITECTURE.md lies outside the repository",
        "README.md: docs/NOPE.md does not exist",
    ]


def test_the_readme_links_the_architecture_document() -> None:
    text = (REPO / "README.md").read_text()
    assert "](docs/ARCHITECTURE.md)" in text
    assert "shared/design" not in text
    architecture = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    assert "docstore_events.catalogue" in architecture or "catalogue" in architecture.lower()


def sections(text: str) -> dict[str, str]:
    """`## ` heading -> its text up to the next heading of that level."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_deploy_readme_covers_backup_upgrade_rollback_and_topics() -> None:
    found = sections((REPO / "deploy" / "README.md").read_text())
    backup = found["Backup and restore"]
    for subject in ("mongodump", "mongorestore", "Typesense", "snapshot", "S3"):
        assert subject in backup, f"Backup and restore says nothing of {subject}"
    assert "Upgrade order" in found and "Rollback" in found
    assert re.search(r"helm .*rollback", found["Rollback"])
    topics = found["Topic settings"]
    for setting in ("min.insync.replicas", "retention.ms", "kafka.topics.minInsyncReplicas"):
        assert setting in topics, f"Topic settings says nothing of {setting}"
