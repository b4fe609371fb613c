"""docs/EVENTS.md carries the event catalogue exactly as `docstore_events.catalogue` makes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from docstore_events import catalogue
from docstore_events.base import EVENT_TYPES, Event
from docstore_events.topics import all_topics

DOCUMENT = Path(__file__).resolve().parents[4] / "docs" / "EVENTS.md"
ARCHITECTURE = DOCUMENT.parent / "ARCHITECTURE.md"
REGENERATE = "run `uv run python -m docstore_events.catalogue --write`"


def document() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


def test_the_documented_catalogue_is_the_generated_one() -> None:
    documented = catalogue.section(document())

    assert documented == catalogue.render(), f"docs/EVENTS.md's event catalogue is out of date: {REGENERATE}"


def test_every_event_of_the_package_is_found() -> None:
    # Event classes defined by tests register in EVENT_TYPES too; only the package's count.
    registered = {name for name, cls in EVENT_TYPES.items() if cls.__module__.startswith("docstore_events.")}
    found = [cls.type for cls in catalogue.find_events()]

    assert set(found) == registered
    assert len(found) == len(set(found))
    assert [t for t in all_topics() if not t.endswith(".dlq")] == [f"docstore.{name}" for name in found]


def test_every_event_says_who_emits_it() -> None:
    events = catalogue.find_events()
    silent = [cls.__name__ for cls in events if "emitted by" not in catalogue.first_paragraph(cls).lower()]

    assert silent == [], "give each event a docstring whose first paragraph says who emits it and why"


def test_the_architecture_map_names_every_event() -> None:
    # Its "Who emits, who consumes" table is generated (`docstore_devplatform.architecture`).
    architecture = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [cls.type for cls in catalogue.find_events() if f"| `{cls.type}` |" not in architecture]

    assert missing == [], "run `uv run python -m docstore_devplatform.architecture --write`"


def test_an_event_entry_shows_type_topic_summary_and_fields() -> None:
    from docstore_events import UploadCompleted

    entry = "\n".join(catalogue.render_event(UploadCompleted))

    assert "### `upload.completed`" in entry
    assert "topic `docstore.upload.completed`" in entry
    assert "Emitted by `upload` exactly once per upload, when the object is in S3." in entry
    assert "Size, ETag" not in entry  # the second paragraph is not the summary
    assert "| `account_id` | `str` | required | the account the event is about; the Kafka key |" in entry
    assert "| `base_version` | `int \\| None` | default `None` |" in entry
    assert "| `actor_id` | `str \\| None` | default `None` | Who uploaded, when not the owner" in entry


def test_write_replaces_only_the_section_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "ARCHITECTURE.md"
    page.write_text(f"# Title\n\nkept\n\n{catalogue.START}\nstale\n{catalogue.END}\n\nafter\n", encoding="utf-8")

    assert catalogue.main(["--check", "--document", str(page)]) == 1
    assert catalogue.main(["--write", "--document", str(page)]) == 0
    assert catalogue.main(["--check", "--document", str(page)]) == 0

    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nkept\n\n")
    assert text.endswith(f"{catalogue.END}\n\nafter\n")
    assert "stale" not in text
    assert catalogue.section(text) == catalogue.render()


def test_a_document_without_markers_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "ARCHITECTURE.md"
    page.write_text("# no catalogue here\n", encoding="utf-8")

    assert catalogue.main(["--write", "--document", str(page)]) == 2
    assert page.read_text(encoding="utf-8") == "# no catalogue here\n"
    with pytest.raises(ValueError):
        catalogue.section("no markers")


def test_a_test_defined_event_is_not_catalogued() -> None:
    class SomethingHappened(Event):
        """Emitted by a test."""

        type = "test.catalogue-something-happened"

    try:
        assert "test.catalogue-something-happened" not in [cls.type for cls in catalogue.find_events()]
    finally:
        del EVENT_TYPES["test.catalogue-something-happened"]


def test_all_topics_alone_names_every_event_topic() -> None:
    # In a fresh interpreter that imports nothing else: a platform creating topics up front must
    # not miss the topics of an event module nobody imported yet.
    script = "from docstore_events.topics import all_topics; print('\\n'.join(all_topics()))"
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    expected = {f"docstore.{cls.type}" for cls in catalogue.find_events()}
    assert expected <= set(printed.split())
