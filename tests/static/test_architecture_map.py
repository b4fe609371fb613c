"""docs/ARCHITECTURE.md's generated tables (services, HTTP between services, who emits and who
consumes) are what `docstore_devplatform.architecture` reads from the code today."""

from __future__ import annotations

from pathlib import Path

import pytest

from docstore_devplatform import architecture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> list[architecture.Service]:
    """The services as the code has them, read once for this module (imports every service)."""
    return architecture.discover(ROOT)


def test_the_map_in_architecture_md_is_the_generated_one(services: list[architecture.Service]) -> None:
    text = (ROOT / architecture.DOCUMENT).read_text(encoding="utf-8")

    assert architecture.stale(text, architecture.render(ROOT, services)) == [], f"run `{architecture.REGENERATE}`"


def test_every_internal_call_reaches_a_served_route(services: list[architecture.Service]) -> None:
    _, unmatched = architecture.edges(services, architecture.kit_source(ROOT))

    assert unmatched == [], "a service calls an /internal/ path no service serves"


def test_every_event_has_a_service_that_emits_it(services: list[architecture.Service]) -> None:
    from docstore_events.catalogue import find_events

    emitted = {t for service in services for t in service.emitted}

    assert [cls.type for cls in find_events() if cls.type not in emitted] == []


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_a_new_service_and_its_calls_are_found_from_its_folder_alone(tmp_path: Path) -> None:
    # No list to update: a folder services/<name>/src/docstore_<name> is a service; its routes,
    # collections and the calls other services make to it are read from the source.
    _write(
        tmp_path,
        "services/vault/src/docstore_vault/api/routes.py",
        'COLLECTION = "vaults"\n\n@router.put("/internal/vaults/{vault_id}")\nasync def put(vault_id: str) -> None:\n'
        "    await db[COLLECTION].insert_one({})\n",
    )
    _write(
        tmp_path,
        "services/caller/src/docstore_caller/adapters/vault_client.py",
        'async def store(http, vault_id: str) -> None:\n    await http.put(f"/internal/vaults/{vault_id}")\n'
        "    settings.vault_url\n",
    )
    (tmp_path / "libs" / "kit" / "src").mkdir(parents=True)

    assert architecture.service_names(tmp_path) == ["caller", "vault"]
    found_services = [
        architecture.Service(
            name,
            f"docstore_{name}",
            source := architecture.read_source((tmp_path / "services" / name).rglob("*.py"), tmp_path),
            list(source.routes),
            {},
            [],
            tmp_path / "README.md",
        )
        for name in ("caller", "vault")
    ]
    found, unmatched = architecture.edges(found_services, architecture.kit_source(tmp_path))

    assert found_services[1].source.collections == {"vaults"}
    assert [(e.caller, e.callee, e.method, e.path) for e in found] == [
        ("caller", "vault", "PUT", "/internal/vaults/{vault_id}")
    ]
    assert unmatched == []
